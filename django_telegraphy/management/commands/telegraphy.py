"""`python manage.py telegraphy`: the gateway (router, ingest, edge),
configured from settings.TELEGRAPHY. The work is in django_telegraphy.gateway."""

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import GatewayError
from ...gateway import run_gateway


class Command(BaseCommand):
    help = ("Runs the Telegraphy gateway (telegraphy-router, -ingest, -edge) configured from "
            "settings.TELEGRAPHY, streams their logs, restarts a crashed process; Ctrl-C stops all.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--bin-dir", help='directory of the gateway binaries (default: TELEGRAPHY["BIN_DIR"], '
                                              "the checkout's build/bin, or PATH)")
        parser.add_argument("--no-restart", action="store_true", help="stop everything when a process exits")

    def handle(self, *args, **options):
        try:
            status = run_gateway(bin_dir=options["bin_dir"], restart=not options["no_restart"], stream=self.stdout)
        except GatewayError as e:
            raise CommandError(str(e), returncode=2)
        if status:
            raise CommandError("telegraphy: the gateway stopped after a failure (see the log above)")

