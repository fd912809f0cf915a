#!/usr/bin/env python3
"""Runs the django_telegraphy tests with their own settings (SQLite in
memory, the test app `testapp`). Prints unittest's output on stderr and, as
its last line on stdout, exactly "django: N passed, N failed" (skipped tests
are neither). Exit status 0 only when nothing failed.

    /usr/bin/python3 tests/django/runtests.py [test labels, e.g. test_tokens]
"""

import contextlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(os.path.dirname(HERE))]
os.environ["DJANGO_SETTINGS_MODULE"] = "settings"


def main(argv):
    import django
    from django.test.runner import DiscoverRunner

    django.setup()
    results = []

    class Runner(DiscoverRunner):
        def run_suite(self, suite, **kwargs):
            result = super().run_suite(suite, **kwargs)
            results.append(result)
            return result

    labels = argv or [HERE]
    runner = Runner(verbosity=2, top_level=HERE, pattern="test_*.py")
    try:
        # Everything but the summary goes to stderr (migrate, checks, tests).
        with contextlib.redirect_stdout(sys.stderr):
            runner.run_tests(labels)
    except Exception as e:  # noqa: BLE001 - a crash outside a test still gives a summary
        print(f"django: runner error: {e!r}", file=sys.stderr)
    if not results:
        print("django: 0 passed, 1 failed")
        return 1
    r = results[0]
    failed = len(r.failures) + len(r.errors) + len(getattr(r, "unexpectedSuccesses", []))
    passed = r.testsRun - failed - len(r.skipped)
    print(f"django: {passed} passed, {failed} failed")
    return 1 if failed or r.testsRun == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
