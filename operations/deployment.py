"""The real deploy path, locally: `make up`, `make plan`, `make down`.

`up` starts the moto emulator as the environment's account (or reuses the one it started
before), applies the bootstrap stack, then the environment stack with its real S3 backend in the
bootstrap's bucket (beside the bootstrap's slow lifecycle rules), and prints the outputs.
Terraform runs on the synthesized stacks unchanged
(`terraform -chdir=cdktf.out/stacks/<stack>`); the emulator is reached through the environment
alone (`emulator_variables`), Terraform's working files live in `.local/<env>/` (TF_DATA_DIR),
and the bootstrap's state there too (`-backend-config=path=`): nothing emulator-specific lands in
cdktf.out/, and the same variables point `cdktf diff` and `cdktf deploy` at the emulator.

`plan` plans both stacks against the emulator or, with target "aws", against the account the
credentials in the environment belong to; `down` destroys a non-production environment on the
emulator, stops the emulator and discards `.local/<env>/`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from definitions.paths import ROOT
from environments.config import Environment
from operations import emulator as moto
from operations.plan_summary import summary
from operations.terraform import copy_stack, terraform, terraform_env, write_cli_config
from stacks.ids import ACCESS_LOG_BUCKET_ID

# Where each environment's emulator record, Terraform working files and local state are kept.
LOCAL_DIR = Path(os.environ.get("PLATFORM_LOCAL_DIR", ROOT / ".local"))

# Resource types the AWS provider waits on after creating them (about a minute for S3 lifecycle
# rules, polling until they read back the same several times).
SLOW_TO_SETTLE = ("aws_s3_bucket_lifecycle_configuration",)
# What moto does not do, said whenever the emulator is used (REFERENCE: the emulator's limits).
EMULATOR_LIMITS = (
    "bucket policies: moto evaluates only StringEquals conditions, so the state bucket's policy is lifted "
    "(its conditional denies would refuse Terraform's own HeadObject); the other buckets keep theirs",
    "CloudTrail delivers no logs and digests, and the log group receives no events",
    "Athena queries report success without running; no alarm fires, no e-mail is sent",
    "IAM is not evaluated: a missing permission shows only on a real account",
    "named queries cannot be deleted (no DeleteNamedQuery): `make down` drops them from the state first",
    *(f"{rtype} is left out (-target): {why}" for rtype, why in moto.UNSUPPORTED_BY_EMULATOR.items()),
)


@dataclasses.dataclass
class LocalDeployment:
    """One environment on the emulator: where its synthesized stacks are, and where its working
    files, state and emulator record are kept."""

    env: Environment
    stacks_dir: Path = ROOT / "cdktf.out" / "stacks"
    state_dir: Path | None = None

    def __post_init__(self) -> None:
        self.state_dir = self.state_dir or LOCAL_DIR / self.env.name
        self.record = self.state_dir / "emulator.json"
        # What `up` applied, kept with the emulator's state: `down` destroys that, whatever the
        # working tree synthesizes now (another branch may name other buckets).
        self.deployed_dir = self.state_dir / "deployed"

    # --- the emulator -------------------------------------------------------------------------

    def running(self) -> moto.Emulator | None:
        """The emulator `up` started for this environment, if it still answers."""
        if not self.record.is_file():
            return None
        data = json.loads(self.record.read_text())
        emulator = moto.Emulator(endpoint=data["endpoint"], account_id=data["account_id"])
        if data["account_id"] != self.env.account_id or not moto.emulator_answers(emulator):
            return None
        return emulator

    def start(self) -> tuple[moto.Emulator, bool]:
        """(the emulator, whether it was started now)."""
        emulator = self.running()
        if emulator is not None:
            return emulator, False
        self.state_dir.mkdir(parents=True, exist_ok=True)
        emulator, process = moto.start_emulator(self.env.account_id, self.state_dir / "moto.log", detached=True)
        self.record.write_text(json.dumps({"endpoint": emulator.endpoint, "account_id": emulator.account_id,
                                           "pid": process.pid}, indent=2))
        return emulator, True

    def emulator_variables(self, emulator: moto.Emulator) -> dict[str, str]:
        """What points Terraform, the cdktf CLI and boto3 at the emulator: an IP endpoint (so S3
        uses path-style addressing), placeholder credentials, and the environment's region."""
        return {"AWS_ENDPOINT_URL": emulator.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": self.env.region, "AWS_DEFAULT_REGION": self.env.region, "AWS_EC2_METADATA_DISABLED": "true"}

    # --- Terraform ----------------------------------------------------------------------------

    def _tf_env(self, stack: str, target: str, variables: dict[str, str]) -> dict[str, str]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        base = terraform_env(write_cli_config(self.state_dir / "terraform.rc"))
        if target == "emulator":  # never let the emulator's fake credentials meet a real account, or the reverse
            base = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        return {**base, **variables, "TF_DATA_DIR": str(self.state_dir / target / stack)}

    def _init(self, stack: str, target: str, variables: dict[str, str], folder: Path | None = None) -> dict[str, str]:
        """`terraform init` of `stack` in `folder` (default: the synthesized stack)."""
        tf_env = self._tf_env(stack, target, variables)
        args = ["init", "-input=false", "-reconfigure", "-lockfile=readonly"]
        if stack == self.env.bootstrap_stack and target == "emulator":
            args.append(f"-backend-config=path={self.state_dir / 'bootstrap.tfstate'}")
        try:
            terraform(args, folder or self.stacks_dir / stack, tf_env)
        except RuntimeError as err:
            # The S3 backend's answer when its bucket is not there (Terraform 1.11): on a branch that
            # renames the state bucket, the state is still in the old one.
            if stack != self.env.name or f'S3 bucket "{self.env.state.bucket}" does not exist' not in str(err):
                raise
            raise RuntimeError(f"the state bucket {self.env.state.bucket} does not exist: if this change moves the state "
                               "backend (`make diff` says so first), move the state with `terraform init -migrate-state` "
                               "or keep state.bucket; else apply the bootstrap stack first") from err
        return tf_env

    def _stacks(self) -> tuple[str, str]:
        return self.env.bootstrap_stack, self.env.name

    def _targets(self, stack: str, target: str) -> list[str]:
        """On the emulator, `-target`s that leave out what it cannot create (UNSUPPORTED_BY_EMULATOR)."""
        return moto.target_args(moto.stack_json(self.stacks_dir / stack)) if target == "emulator" else []

    def up(self, progress: Callable[[str], object] = lambda step: None) -> dict[str, object]:
        """Apply the bootstrap, then the environment; return the environment stack's outputs.
        `progress` hears of each step as it begins.

        The bootstrap's S3 lifecycle rules take the AWS provider about a minute (it waits for them
        to settle) and the environment needs none of them: they are applied last, beside the
        environment, whose state needs the bucket, its key and its policy (lifted first)."""
        progress(f"starting the emulator as account {self.env.account_id}")
        emulator, _ = self.start()
        variables = self.emulator_variables(emulator)
        bootstrap, main = self._stacks()
        for stack in (bootstrap, main):
            shutil.rmtree(self.deployed_dir / stack, ignore_errors=True)
            copy_stack(self.stacks_dir / stack, self.deployed_dir / stack)
        progress(f"applying {bootstrap}, its S3 lifecycle rules last")
        bootstrap_env = self._init(bootstrap, "emulator", variables)
        first = self._resource_targets(bootstrap, lambda rtype: rtype not in SLOW_TO_SETTLE)
        last = self._resource_targets(bootstrap, lambda rtype: rtype in SLOW_TO_SETTLE)
        terraform(["apply", "-auto-approve", "-input=false", *first], self.stacks_dir / bootstrap, bootstrap_env)
        # moto would answer Terraform's HeadObject on the state with 403 under this policy (EMULATOR_LIMITS).
        emulator.boto3_client("s3", self.env.state.region).delete_bucket_policy(Bucket=self.env.state.bucket)
        progress(f"applying {main}, with its state in the bootstrap's bucket, while {bootstrap}'s lifecycle rules settle")
        with ThreadPoolExecutor(max_workers=1) as pool:
            rest = pool.submit(terraform, ["apply", "-auto-approve", "-input=false", *last], self.stacks_dir / bootstrap,
                               bootstrap_env) if last else None
            tf_env = self._init(main, "emulator", variables)
            terraform(["apply", "-auto-approve", "-input=false", *self._targets(main, "emulator")], self.stacks_dir / main, tf_env)
            if rest is not None:
                rest.result()
        result = terraform(["output", "-json"], self.stacks_dir / main, tf_env)
        return {name: output["value"] for name, output in json.loads(result.stdout).items()}

    def _resource_targets(self, stack: str, keep: Callable[[str], bool]) -> list[str]:
        """`-target`s for the resources of `stack` whose type `keep` accepts, but those the emulator
        cannot create (UNSUPPORTED_BY_EMULATOR)."""
        config = moto.stack_json(self.stacks_dir / stack)
        return [f"-target={rtype}.{name}" for rtype, by_name in config.get("resource", {}).items() for name in by_name
                if rtype not in moto.UNSUPPORTED_BY_EMULATOR and keep(rtype)]

    def _variables(self, target: str) -> dict[str, str]:
        if target == "emulator":
            emulator = self.running()
            if emulator is None:
                raise RuntimeError(f"no emulator is running for {self.env.name}: run `make up ENV={self.env.name}` first")
            return self.emulator_variables(emulator)
        if target == "aws":
            return {}
        raise ValueError(f"TARGET must be emulator or aws, got {target!r}")

    def bootstrap_state_known(self, target: str) -> bool:
        """Whether the bootstrap's local state is here: on the emulator `up` keeps it in state_dir;
        against AWS it is `.bootstrap-state/<env>.tfstate` of whoever applied the bootstrap (a CI
        runner has none, and would plan creating everything again)."""
        if target == "emulator":
            return (self.state_dir / "bootstrap.tfstate").is_file()
        stack = json.loads((self.stacks_dir / self.env.bootstrap_stack / "cdk.tf.json").read_text())
        return (self.stacks_dir / self.env.bootstrap_stack / stack["terraform"]["backend"]["local"]["path"]).is_file()

    def plan(self, target: str = "emulator", *, detailed: bool = False,
             only: str | None = None) -> dict[str, tuple[Path, int]]:
        """Plan the bootstrap (when its state is known here) and the environment against the emulator
        (which `up` must have started) or real AWS (the credentials in the environment), side by side;
        `only` names the one stack to plan. Each plan is saved with its Markdown summary
        (`<stack>.md`, operations/plan_summary.py) beside it. Returns {stack: (plan file, exit
        status)}: with `detailed`, 2 means the plan has changes."""
        variables = self._variables(target)
        stacks = [s for s in self._stacks() if s != self.env.bootstrap_stack or self.bootstrap_state_known(target)]
        stacks = [s for s in stacks if only in (None, s)]
        with ThreadPoolExecutor(max_workers=len(stacks) or 1) as pool:  # each stack has its own folder and data dir
            planned = {stack: pool.submit(self._plan_stack, stack, target, variables, detailed) for stack in stacks}
        return {stack: future.result() for stack, future in planned.items()}

    def _plan_stack(self, stack: str, target: str, variables: dict[str, str], detailed: bool) -> tuple[Path, int]:
        tf_env = self._init(stack, target, variables)
        plan_file = self.state_dir / target / f"{stack}.tfplan"
        args = ["plan", "-input=false", f"-out={plan_file}", *(["-detailed-exitcode"] if detailed else []),
                *self._targets(stack, target)]
        result = terraform(args, self.stacks_dir / stack, tf_env, check=False)
        if result.returncode not in ((0, 2) if detailed else (0,)):
            raise RuntimeError(f"terraform plan of {stack} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        shown = json.loads(terraform(["show", "-json", str(plan_file)], self.stacks_dir / stack, tf_env).stdout)
        plan_file.with_suffix(".md").write_text(summary(stack, shown, f"Terraform plan: `{stack}` ({target})"))
        return plan_file, result.returncode

    def show(self, plan_file: Path, target: str = "emulator") -> dict:
        """`terraform show -json` of a saved plan."""
        stack, emulator = plan_file.stem, self.running() if target == "emulator" else None
        tf_env = self._tf_env(stack, target, self.emulator_variables(emulator) if emulator else {})
        return json.loads(terraform(["show", "-json", str(plan_file)], self.stacks_dir / stack, tf_env).stdout)

    def apply(self, target: str = "aws", saved: Path | None = None) -> Path:
        """Apply the environment stack (the bootstrap is applied by an administrator: it creates the
        roles that deploy): exactly the `saved` plan, the one reviewers approved, or else a plan made
        now. Terraform refuses a saved plan once the state has changed since it was made ("Saved plan
        is stale"). Returns the plan's summary."""
        stack = self.env.name
        if saved is None:
            saved, _ = self.plan(target, only=stack)[stack]
            tf_env = self._tf_env(stack, target, self._variables(target))
        else:
            if not saved.is_file():
                raise RuntimeError(f"no saved plan at {saved}: make it with `make plan ENV={stack} TARGET={target}`")
            tf_env = self._init(stack, target, self._variables(target))
        terraform(["apply", "-input=false", str(saved)], self.stacks_dir / stack, tf_env)
        return saved.with_suffix(".md")

    def drift(self, target: str = "aws") -> Path | None:
        """Plan every stack whose state is known; when one would change, write `drift.md` (their
        summaries) and return it; None when the infrastructure matches the code."""
        report = self.state_dir / target / "drift.md"
        report.unlink(missing_ok=True)
        drifted = [plan_file for plan_file, status in self.plan(target, detailed=True).values() if status == 2]
        if not drifted:
            return None
        report.write_text("\n".join(p.with_suffix(".md").read_text() for p in drifted))
        return report

    def down(self) -> list[str]:
        """Destroy a non-production environment on the emulator; stop the emulator; discard the
        local state. Returns what was done, one line each. The emulator is stopped and the state
        discarded even when the destroy fails (the error then says what was left)."""
        try:
            done = self.destroy()
        except RuntimeError as err:
            raise RuntimeError(f"{err}\n{'; '.join(self.discard())} all the same") from err
        return done + self.discard()

    def _deployed(self, stack: str) -> Path:
        """The copy `up` applied, or (an emulator deployed before copies were kept) the current synth."""
        copy = self.deployed_dir / stack
        return copy if (copy / "cdk.tf.json").is_file() else self.stacks_dir / stack

    def _buckets(self, stack: str) -> list[str]:
        """The names of the buckets the deployed stack holds, the access-log bucket left out."""
        config = moto.stack_json(self._deployed(stack))
        return [body["bucket"] for body in config.get("resource", {}).get("aws_s3_bucket", {}).values()
                if body["//"]["metadata"]["path"].split("/")[1] != ACCESS_LOG_BUCKET_ID]

    def _access_log_buckets(self, stack: str) -> list[str]:
        config = moto.stack_json(self._deployed(stack))
        return [body["bucket"] for body in config.get("resource", {}).get("aws_s3_bucket", {}).values()
                if body["//"]["metadata"]["path"].split("/")[1] == ACCESS_LOG_BUCKET_ID]

    def destroy(self) -> list[str]:
        """Empty the buckets and destroy both stacks on the emulator, unless production."""
        done = []
        emulator = self.running()
        if emulator is not None and not self.env.production:
            variables = self.emulator_variables(emulator)
            bootstrap, main = self._stacks()
            s3 = emulator.boto3_client("s3", self.env.region)
            for bucket in self._buckets(main):
                moto.empty_versioned_bucket(s3, bucket)
            # The access-log bucket receives the logs of the other buckets' deletion: emptied after them.
            dropped = moto.destroy_stack(
                self._deployed(main), self._init(main, "emulator", variables, self._deployed(main)), last=[ACCESS_LOG_BUCKET_ID],
                before_last=lambda: [moto.empty_versioned_bucket(s3, b) for b in self._access_log_buckets(main)])
            done.append(f"destroyed {main} (dropped from its state first, the emulator cannot delete them: {len(dropped)} "
                        "named queries)")
            state_s3 = emulator.boto3_client("s3", self.env.state.region)
            for bucket in self._buckets(bootstrap):
                moto.empty_versioned_bucket(state_s3, bucket)
            moto.destroy_stack(
                self._deployed(bootstrap), self._init(bootstrap, "emulator", variables, self._deployed(bootstrap)),
                last=[ACCESS_LOG_BUCKET_ID],
                before_last=lambda: [moto.empty_versioned_bucket(state_s3, b) for b in self._access_log_buckets(bootstrap)])
            done.append(f"destroyed {bootstrap}")
        elif emulator is not None:
            done.append(f"{self.env.name} is production: not destroyed (prevent_destroy); the emulator is discarded with it")
        return done

    def discard(self) -> list[str]:
        """Stop the emulator and remove the local state."""
        done = []
        if self.record.is_file():
            pid = json.loads(self.record.read_text())["pid"]
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.is_file() and b"moto_server" in cmdline.read_bytes():  # never a recycled process id
                moto.stop_emulator(pid)
                done.append("stopped the emulator")
        shutil.rmtree(self.state_dir, ignore_errors=True)
        done.append(f"removed {os.path.relpath(self.state_dir, ROOT)}/")
        return done
