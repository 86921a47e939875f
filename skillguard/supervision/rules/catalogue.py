"""The rule catalogue shipped with SkillGuard: importing this module registers every rule.

Each family of rules lives in its own module (schedule, check-ins, registry, subsidy,
volume, online learning, placeholders for video); this module only imports them.
"""
from skillguard.supervision.rules import (  # noqa: F401  (imported to register)
    checkins,
    online,
    registry_rules,
    schedule,
    subsidy,
    video,
    volume,
)
