"""``skillguard user create|token|revoke`` — users and API tokens from the command line.

  skillguard user create --username U --role R [--district-code 310104]
                         [--institution-credit-code 52310000…] [--teacher-id N]
                         [--trainee-id N] [--password P | --no-password]
  skillguard user token --username U [--name LABEL] [--days 365]   prints the token once
  skillguard user revoke --prefix sg_XXXXXXXX

Writes go through accounts.services (validated and audited as done by the system).
"""
from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand, CommandError

from skillguard.accounts import services
from skillguard.accounts.models import ApiToken, User
from skillguard.accounts.roles import Role
from skillguard.core.errors import BusinessRuleError


class Command(BaseCommand):
    help = "Create users and issue or revoke API tokens / 创建用户、签发或吊销 API 令牌"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        create = sub.add_parser("create", help="create a user with a role")
        create.add_argument("--username", required=True)
        create.add_argument("--role", required=True, choices=Role.values)
        create.add_argument("--district-code", help="district administrative code, e.g. 310104")
        create.add_argument("--institution-credit-code",
                            help="unified social credit code of the institution")
        create.add_argument("--teacher-id", type=int, help="teacher record id (role teacher)")
        create.add_argument("--trainee-id", type=int, help="trainee record id (role trainee)")
        create.add_argument("--display-name", default="")
        group = create.add_mutually_exclusive_group()
        group.add_argument("--password", help="unset: a random password is generated and "
                                              "printed once")
        group.add_argument("--no-password", action="store_true",
                           help="no usable password (API clients use tokens)")

        token = sub.add_parser("token", help="issue an API token (printed once)")
        token.add_argument("--username", required=True)
        token.add_argument("--name", default="", help="a label for the token")
        token.add_argument("--days", type=int, default=365,
                           help="days until it expires; 0 = never")

        revoke = sub.add_parser("revoke", help="revoke an API token")
        revoke.add_argument("--prefix", required=True, help="the token's first characters")

    def handle(self, *args, **options):
        try:
            return getattr(self, f"_{options['action']}")(options)
        except BusinessRuleError as exc:
            raise CommandError("\n".join(
                f"{p['field'] or '-'}: {p['message_en']} / {p['message_zh']}"
                for p in exc.as_list())) from None

    def _create(self, options):
        from skillguard.registry.models import District, Institution, Teacher, Trainee

        anchors = {}
        lookups = (("district", District, "code", options["district_code"]),
                   ("institution", Institution, "credit_code",
                    (options["institution_credit_code"] or "").strip().upper() or None),
                   ("teacher", Teacher, "pk", options["teacher_id"]),
                   ("trainee", Trainee, "pk", options["trainee_id"]))
        for name, model, field, value in lookups:
            if value is None:
                continue
            try:
                anchors[name] = model.objects.get(**{field: value})
            except model.DoesNotExist:
                raise CommandError(f"no {name} with {field} {value}") from None
        generated = options["password"] is None and not options["no_password"]
        password = None if options["no_password"] else (
            options["password"] or secrets.token_urlsafe(12))
        user = services.create_user(None, options["username"], options["role"], password,
                                    display_name=options["display_name"], **anchors)
        self.stdout.write(self.style.SUCCESS(
            f"created {user.username} ({user.get_role_display()})"))
        if generated:
            self.stdout.write(f"password: {password}")
            self.stdout.write("Shown once: write it down. / 密码只显示一次，请妥善保存。")

    def _token(self, options):
        try:
            owner = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user {options['username']}") from None
        token, plaintext = services.issue_api_token(None, owner, name=options["name"],
                                                    days=options["days"] or None)
        expires = f"{token.expires_at:%Y-%m-%d}" if token.expires_at else "never"
        self.stderr.write(f"token {token.prefix}… for {owner.username}, expires {expires}. "
                          "Shown once: store it now. / 令牌只显示一次，请立即保存。")
        self.stdout.write(plaintext)

    def _revoke(self, options):
        tokens = list(ApiToken.objects.filter(prefix=options["prefix"], revoked_at=None))
        if len(tokens) != 1:
            raise CommandError(f"{len(tokens)} active tokens start with {options['prefix']}")
        services.revoke_api_token(None, tokens[0], comment="skillguard user revoke")
        self.stdout.write(self.style.SUCCESS(f"revoked {tokens[0].prefix}…"))
