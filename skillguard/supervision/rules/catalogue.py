"""The rule catalogue shipped with SkillGuard: importing this module registers every rule.

Each family of rules lives in its own module (attendance, registry, subsidy, volume,
placeholders for video and online learning); this module only imports them.
"""
