"""Checks infra/template.yaml offline, and deploys it to moto's CloudFormation.

  python scripts/infra_check.py lint OUT_DIR
      transforms the SAM template to plain CloudFormation with aws-sam-translator (cfn-lint alone
      does not check the properties of AWS::Serverless::Function), writes OUT_DIR/template.json,
      and runs cfn-lint on both (errors fail; warnings about SAM's own generated policies do not).
  python scripts/infra_check.py transform OUT_DIR
      only the transform: writes OUT_DIR/template.json (tests read its IAM policies).
  python scripts/infra_check.py deploy ENDPOINT OUT_DIR STACK_NAME
      lint, then creates the transformed stack on the moto server at ENDPOINT and prints its
      resources and outputs as JSON; exits non-zero unless the stack reaches CREATE_COMPLETE.
"""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")
ARTIFACT_BUCKET = "sf2hs-artifacts"
ARTIFACT_KEY = "bootstrap.zip"
TEST_ORG_ID = "00Dxx0000001gPFEAY"


class NoManagedPolicies:
    """The template names no managed policies by name; nothing to look up in IAM."""

    def load(self):
        return {}


def transformed():
    # The translator fills AWS::Region from the environment; any region will do offline.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = cfn_yaml.load(TEMPLATE)
    template = json.loads(json.dumps(template))
    # Code location of a built artifact (sam build / package would set it).
    template["Globals"]["Function"]["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
    return transform(template, {}, NoManagedPolicies())


def write_transform(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "template.json")
    with open(out, "w") as f:
        json.dump(transformed(), f, indent=2, sort_keys=True)
    return out


def lint(out_dir):
    out = write_transform(out_dir)
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    for path in (TEMPLATE, out):
        result = subprocess.run([cfn_lint, "--non-zero-exit-code", "error", path])
        if result.returncode != 0:
            sys.exit(f"cfn-lint found errors in {path}")
    print(f"cfn-lint: {TEMPLATE} and its transform {out} have no errors", file=sys.stderr)
    return out


def deploy(endpoint, out_dir, stack_name):
    import boto3

    template = json.load(open(lint(out_dir)))
    # moto models no Function URL (toolchain.md): its output cannot be resolved there. Every
    # other resource and output is deployed as written.
    unsupported = {"AWS::Lambda::Url"}
    skipped = [
        name
        for name, output in template.get("Outputs", {}).items()
        if isinstance(output.get("Value"), dict)
        and "Fn::GetAtt" in output["Value"]
        and template["Resources"][output["Value"]["Fn::GetAtt"][0]]["Type"] in unsupported
    ]
    for name in skipped:
        del template["Outputs"][name]
    body = json.dumps(template)
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    s3 = session.client("s3", endpoint_url=endpoint)
    try:
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())
    cfn = session.client("cloudformation", endpoint_url=endpoint)
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": "SalesforceOrgId", "ParameterValue": TEST_ORG_ID}],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    status = ""
    for _ in range(120):
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    resources = cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    report = {
        "status": status,
        "reason": stack.get("StackStatusReason"),
        "resources": {
            r["LogicalResourceId"]: {
                "type": r["ResourceType"],
                "status": r["ResourceStatus"],
                "physical": r.get("PhysicalResourceId"),
            }
            for r in resources
        },
        "outputs": {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])},
        "outputs_not_deployable_on_moto": skipped,
    }
    functions = session.client("lambda", endpoint_url=endpoint)
    report["environments"] = {
        name: functions.get_function_configuration(FunctionName=r["physical"])
        .get("Environment", {})
        .get("Variables", {})
        for name, r in report["resources"].items()
        if r["type"] == "AWS::Lambda::Function"
    }
    print(json.dumps(report, indent=2, sort_keys=True))
    if status != "CREATE_COMPLETE":
        sys.exit(f"stack {stack_name} ended {status}: {stack.get('StackStatusReason')}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "lint":
        lint(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "transform":
        write_transform(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "deploy":
        deploy(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
