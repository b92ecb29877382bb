"""The demo's plan (scripts/demo.sh --dry-run) and its exit verdict
(scripts/demo_view.verdict): real providers only with --real-providers N,
never because a key happens to be in the environment; non-zero when most
jobs fail. Nothing here builds, starts or contacts anything: --dry-run exits
before the demo installs, builds or starts a process."""
import os
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import demo_view  # noqa: E402

verdict = getattr(demo_view, "verdict", None)  # a missing one fails the Verdict tests, not the import
KEYS = ("KIE_API_KEY", "REPLICATE_API_TOKEN", "DEMO_JOBS")


def plan(args, **env):
    """Run demo.sh --dry-run ARGS with only the given keys set: (rc, output)."""
    e = {k: v for k, v in os.environ.items() if k not in KEYS}
    e.update(env)
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh"), "--dry-run"] + args, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    return p.returncode, p.stdout


class Plan(unittest.TestCase):
    def test_keys_in_the_shell_are_ignored(self):
        rc, out = plan([], KIE_API_KEY="sk-not-real", REPLICATE_API_TOKEN="r8-not-real")
        self.assertEqual(rc, 0, out)
        self.assertIn("set but ignored: using the fake providers", out)
        self.assertIn("plan: fake providers", out)
        self.assertIn("nothing billed", out)
        self.assertNotIn("REAL", out)
        self.assertNotIn("not-real", out)  # never echoes a key

    def test_no_keys_fake_providers_quietly(self):
        rc, out = plan([], DEMO_JOBS="40")
        self.assertEqual(rc, 0, out)
        self.assertNotIn("ignored", out)
        self.assertIn("plan: fake providers (fakeprov on 127.0.0.1), 40 jobs, nothing billed", out)

    def test_real_providers_say_what_is_billed(self):
        rc, out = plan(["--real-providers", "3"], KIE_API_KEY="sk-not-real")
        self.assertEqual(rc, 0, out)
        self.assertIn("plan: REAL providers, 3 jobs to kie (https://api.kie.ai)\n", out)
        self.assertIn("bills your accounts for up to 3 images", out)
        self.assertNotIn("not-real", out)

    def test_real_providers_both_keys_and_job_count_wins(self):
        rc, out = plan(["--real-providers=7"], KIE_API_KEY="k", REPLICATE_API_TOKEN="r", DEMO_JOBS="500")
        self.assertEqual(rc, 0, out)
        self.assertIn("7 jobs to kie (https://api.kie.ai), then replicate (https://api.replicate.com)", out)
        self.assertIn("DEMO_JOBS=500 ignored", out)

    def test_real_providers_need_a_key(self):
        rc, out = plan(["--real-providers", "3"])
        self.assertEqual(rc, 2, out)
        self.assertIn("needs KIE_API_KEY and/or REPLICATE_API_TOKEN", out)

    def test_real_providers_need_a_sane_count(self):
        for bad in (["--real-providers"], ["--real-providers", "0"], ["--real-providers", "ten"],
                    ["--real-providers", "-5"], ["--real-providers", "100001"],
                    ["--real-providers", "99999999999999999999"]):
            rc, out = plan(bad, KIE_API_KEY="k")
            self.assertEqual(rc, 2, "%s: %s" % (bad, out))
            self.assertNotIn("plan:", out, bad)

    def test_chaos_is_fake_only(self):
        rc, out = plan(["--real-providers", "2", "--chaos"], KIE_API_KEY="k")
        self.assertEqual(rc, 2, out)
        rc, out = plan(["--chaos"], KIE_API_KEY="k")
        self.assertEqual(rc, 0, out)
        self.assertIn("nothing billed, chaos", out)

    def test_unknown_argument(self):
        rc, out = plan(["--real"])
        self.assertEqual(rc, 2, out)
        self.assertIn("usage:", out)


class Verdict(unittest.TestCase):
    def test_all_succeeded(self):
        self.assertEqual(verdict(500, 500, 0, 0), (0, ""))

    def test_a_few_failures_pass(self):
        self.assertEqual(verdict(500, 500, 12, 0)[0], 0)
        self.assertEqual(verdict(10, 10, 5, 0)[0], 0)  # half succeeded: not "most failed"

    def test_most_failed(self):
        rc, why = verdict(500, 500, 500, 0)  # the report in issue 14: 0 of 500 succeeded
        self.assertEqual(rc, 1)
        self.assertIn("only 0 of 500 jobs succeeded", why)
        self.assertEqual(verdict(10, 10, 6, 0)[0], 1)

    def test_missing_results_count_as_not_succeeded(self):
        rc, why = verdict(10, 3, 0, 0)
        self.assertEqual(rc, 1)
        self.assertIn("only 3 of 10", why)
        rc, why = verdict(10, 9, 0, 0)
        self.assertEqual(rc, 1)
        self.assertIn("1 of 10 jobs without a result", why)

    def test_enqueue_failure(self):
        self.assertEqual(verdict(10, 10, 0, 1)[0], 1)


if __name__ == "__main__":
    unittest.main()
