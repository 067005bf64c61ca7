#!/usr/bin/env python3
"""Generates the demo inventory bundled with `assetwarden demo`.

A web shop on AWS: two accounts (prod 111111111111, staging 222222222222), two regions
(eu-west-1, us-east-1), an Application Load Balancer in front of ECS on Fargate, RDS, S3,
Lambda, a few EC2 hosts, IAM, CloudTrail, KMS and Route 53. Records are AWS Config
configuration items (as `aws configservice select-resource-config` prints them). A fixed seed
gives a fixed file: `python3 examples/demo/gen_demo.py > crates/cli/demo/inventory.ndjson`.
"""
import json
import random
import sys

rnd = random.Random(20261127)
ACCOUNTS = {"111111111111": "prod", "222222222222": "staging"}
REGIONS = ["eu-west-1", "us-east-1"]
TEAMS = ["web-team@example.com", "platform@example.com", "data@example.com", "payments@example.com"]
CAPTURE = "2026-11-26T06:00:00.000Z"
out = []


def hexid(n=17):
    return "".join(rnd.choice("0123456789abcdef") for _ in range(n))


def tags_for(env, service, cls=None, owner=True):
    """A believable tag set, sometimes incomplete or wrong."""
    t = {}
    roll = rnd.random()
    if owner and roll > 0.15:
        t["Owner"] = rnd.choice(TEAMS)
    if roll > 0.25:
        t["Environment"] = env if rnd.random() > 0.1 else {"prod": "Production", "staging": "stage"}[env]
    if rnd.random() > 0.3:
        t["Service"] = service
    if cls and rnd.random() > 0.35:
        t["DataClassification"] = cls if rnd.random() > 0.08 else cls.capitalize()
    if rnd.random() > 0.7:
        t["CostCenter"] = "cc-" + str(rnd.randint(100, 999))
    return t


def item(rtype, arn, rid, name, acct, region, tags, conf, supp=None, created="2025-06-01T10:00:00.000Z"):
    out.append({
        "version": "1.3",
        "accountId": acct,
        "configurationItemCaptureTime": CAPTURE,
        "configurationItemStatus": "OK",
        "arn": arn,
        "resourceType": rtype,
        "resourceId": rid,
        "resourceName": name,
        "awsRegion": region,
        "resourceCreationTime": created,
        "tags": tags,
        "configuration": conf,
        "supplementaryConfiguration": supp or {},
    })


def maybe(p):
    return rnd.random() < p


for acct, env in ACCOUNTS.items():
    prod = env == "prod"
    # Global: IAM, S3, CloudTrail, Route 53 (once per account)
    for i, user in enumerate(["alice", "bob", "carol", "deploy-bot", "ci-runner", "legacy-admin"]):
        keys = []
        if user in ("deploy-bot", "ci-runner", "legacy-admin"):
            age_days = rnd.choice([20, 45, 200, 400]) if user != "legacy-admin" else 900
            created = f"2026-{max(1, 11 - age_days // 30):02d}-01T00:00:00Z" if age_days < 300 else "2024-05-01T00:00:00Z"
            keys.append({"accessKeyId": "AKIA" + hexid(16).upper(), "status": "Active", "createDate": created})
        mfa = [] if user in ("deploy-bot", "ci-runner", "legacy-admin") or maybe(0.2) else [{"serialNumber": f"arn:aws:iam::{acct}:mfa/{user}"}]
        attached = [{"policyName": "AdministratorAccess", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}] if user == "legacy-admin" else []
        item("AWS::IAM::User", f"arn:aws:iam::{acct}:user/{user}", "AIDA" + hexid(16).upper(), user, acct, "global",
             tags_for(env, "identity", owner=True),
             {"path": "/", "userName": user, "arn": f"arn:aws:iam::{acct}:user/{user}", "attachedManagedPolicies": attached,
              "userPolicyList": [], "groupList": ["developers"] if user in ("alice", "bob", "carol") else []},
             # AWS Config does not record access keys or MFA devices: only the prod account's
             # inventory was enriched with ListAccessKeys/ListMFADevices, so staging's are unseen.
             {"AccessKeys": keys, "MFADevices": mfa} if prod else {})
    for pname, stmts in [
        ("shop-deploy", [{"Effect": "Allow", "Action": ["ecs:UpdateService", "ecr:PutImage"], "Resource": "*"}]),
        ("ops-break-glass", [{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        ("data-read", [{"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{env}-shop-data-lake/*"}]),
    ]:
        doc = json.dumps({"Version": "2012-10-17", "Statement": stmts})
        item("AWS::IAM::Policy", f"arn:aws:iam::{acct}:policy/{pname}", "ANPA" + hexid(16).upper(), pname, acct, "global", {},
             {"policyName": pname, "defaultVersionId": "v1", "attachmentCount": 1,
              "policyVersionList": [{"document": doc.replace('"', "%22").replace("{", "%7B").replace("}", "%7D").replace(" ", "%20"), "versionId": "v1", "isDefaultVersion": True}]})
    buckets = [
        ("static-site", "public", True), ("uploads", "confidential", False), ("access-logs", "internal", False),
        ("backups", "restricted", False), ("data-lake", "confidential", False), ("invoices", "restricted", False),
        ("tmp-exports", None, False), ("terraform-state", "confidential", False),
    ]
    for bname, cls, public in buckets:
        name = f"{env}-shop-{bname}" + ("" if bname != "tmp-exports" else "-" + hexid(6))
        region = "eu-west-1" if bname != "access-logs" else rnd.choice(REGIONS)
        pab = None if public else {"blockPublicAcls": True, "ignorePublicAcls": True, "blockPublicPolicy": True, "restrictPublicBuckets": True}
        if pab and maybe(0.2):
            pab["restrictPublicBuckets"] = False
        if bname == "tmp-exports":
            pab = None
        supp = {
            "AccessControlList": json.dumps({"grantList": [{"grantee": {"id": "owner-canonical-id", "displayName": None}, "permission": "FullControl"}]
                                             + ([{"grantee": "AllUsers", "permission": "Read"}] if public else []),
                                             "owner": {"id": "owner-canonical-id", "displayName": None}}),
            "BucketLoggingConfiguration": {"destinationBucketName": f"{env}-shop-access-logs" if maybe(0.6) and bname != "access-logs" else None, "logFilePrefix": bname},
            "BucketVersioningConfiguration": {"status": "Enabled" if bname in ("backups", "terraform-state", "invoices") or maybe(0.3) else "Off", "isMfaDeleteEnabled": None},
            "BucketPolicy": {"policyText": json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
                + ([{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}] if public else [])
            }) if maybe(0.7) or public else None},
            "IsRequesterPaysEnabled": False,
        }
        if pab:
            supp["PublicAccessBlockConfiguration"] = pab
        if not (bname == "tmp-exports" or maybe(0.1)):
            supp["ServerSideEncryptionConfiguration"] = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms" if cls in ("restricted", "confidential") else "AES256", "kmsMasterKeyID": None}, "bucketKeyEnabled": True}]}
        if bname in ("access-logs", "tmp-exports", "backups") or maybe(0.3):
            supp["BucketLifecycleConfiguration"] = {"rules": [{"id": "expire", "status": "Enabled", "expirationInDays": 90}]}
        item("AWS::S3::Bucket", f"arn:aws:s3:::{name}", name, name, acct, region, tags_for(env, "shop", cls),
             {"name": name, "owner": {"displayName": None, "id": "owner-canonical-id"}, "creationDate": "2024-03-02T09:00:00.000Z"}, supp)
    trail = f"{env}-org-trail"
    item("AWS::CloudTrail::Trail", f"arn:aws:cloudtrail:eu-west-1:{acct}:trail/{trail}", trail, trail, acct, "eu-west-1", tags_for(env, "security", "internal"),
         {"name": trail, "s3BucketName": f"{env}-shop-access-logs", "isMultiRegionTrail": prod, "includeGlobalServiceEvents": True,
          "logFileValidationEnabled": prod, "kmsKeyId": f"arn:aws:kms:eu-west-1:{acct}:key/{hexid(8)}-{hexid(4)}-{hexid(4)}-{hexid(4)}-{hexid(12)}" if prod else None,
          "cloudWatchLogsLogGroupArn": f"arn:aws:logs:eu-west-1:{acct}:log-group:cloudtrail:*" if maybe(0.5) else None, "homeRegion": "eu-west-1"})
    if prod:
        for zname, private, logging in [("shop.example.com.", False, True), ("api.shop.example.com.", False, False), ("internal.shop.", True, False)]:
            zid = "Z" + hexid(13).upper()
            item("AWS::Route53::HostedZone", f"arn:aws:route53:::hostedzone/{zid}", zid, zname, acct, "global", tags_for(env, "web", "public"),
                 {"Id": zid, "Name": zname, "HostedZoneConfig": {"Comment": "", "PrivateZone": private},
                  **({"QueryLoggingConfig": {"CloudWatchLogsLogGroupArn": f"arn:aws:logs:us-east-1:{acct}:log-group:/aws/route53/{zname}"}} if logging else {}),
                  **({"VPCs": [{"VPCId": "vpc-" + hexid(8), "VPCRegion": "eu-west-1"}]} if private else {})})
    for repo in ["shop/web", "shop/api", "shop/worker"]:
        rarn = f"arn:aws:ecr:eu-west-1:{acct}:repository/{repo}"
        conf = {"RepositoryName": repo, "Arn": rarn, "ImageScanningConfiguration": {"ScanOnPush": maybe(0.6)},
                "ImageTagMutability": "IMMUTABLE" if maybe(0.4) else "MUTABLE", "EncryptionConfiguration": {"EncryptionType": "AES256"},
                "LifecyclePolicy": {"LifecyclePolicyText": json.dumps({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 20}, "action": {"type": "expire"}}]})} if maybe(0.6) else {}}
        item("AWS::ECR::Repository", rarn, repo, repo, acct, "eu-west-1", tags_for(env, repo.split("/")[1], "internal"), conf)

    for region in REGIONS:
        vpc = "vpc-" + hexid(8)
        # KMS
        for k in range(2):
            kid = f"{hexid(8)}-{hexid(4)}-{hexid(4)}-{hexid(4)}-{hexid(12)}"
            state = "PendingDeletion" if (not prod and k == 1 and region == "us-east-1") else "Enabled"
            item("AWS::KMS::Key", f"arn:aws:kms:{region}:{acct}:key/{kid}", kid, kid, acct, region, tags_for(env, "security", "restricted"),
                 {"keyId": kid, "keyState": state, "keyManager": "CUSTOMER", "keySpec": "SYMMETRIC_DEFAULT", "keyUsage": "ENCRYPT_DECRYPT",
                  "enabled": state == "Enabled", **({"keyRotationEnabled": maybe(0.6)} if prod else {})})
        subnets = []
        for s in range(4):
            sid = "subnet-" + hexid(8)
            subnets.append(sid)
            public = s < 2
            item("AWS::EC2::Subnet", f"arn:aws:ec2:{region}:{acct}:subnet/{sid}", sid, f"{env}-{'public' if public else 'private'}-{s}", acct, region,
                 tags_for(env, "network", "internal"),
                 {"subnetId": sid, "vpcId": vpc, "cidrBlock": f"10.{s}.0.0/20", "availabilityZone": f"{region}{'abc'[s % 2]}", "mapPublicIpOnLaunch": public and maybe(0.7)})
        sgs = {}
        for sgname, rules in [
            ("default", [{"ipProtocol": "-1", "ipRanges": [], "ipv4Ranges": [], "userIdGroupPairs": [{"groupId": "self"}]}] if maybe(0.6) else []),
            ("alb", [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipv6Ranges": [{"cidrIpv6": "::/0"}]},
                     {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]),
            ("web", [{"ipProtocol": "tcp", "fromPort": 8080, "toPort": 8080, "ipRanges": [], "ipv4Ranges": [], "userIdGroupPairs": [{"groupId": "sg-alb"}]}]),
            ("db", [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipRanges": ["10.0.0.0/8"], "ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}]}]
                   + ([{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}] if (not prod and region == "eu-west-1") else [])),
            ("bastion", [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]),
            ("debug", [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}] if (not prod and region == "us-east-1") else
                      [{"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipRanges": ["192.0.2.0/24"], "ipv4Ranges": [{"cidrIp": "192.0.2.0/24"}]}]),
        ]:
            gid = ("sg-0bastion" + hexid(9)) if sgname == "bastion" else "sg-" + hexid(17)
            sgs[sgname] = gid
            egress = [{"ipProtocol": "-1", "ipRanges": ["0.0.0.0/0"], "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]}]
            item("AWS::EC2::SecurityGroup", f"arn:aws:ec2:{region}:{acct}:security-group/{gid}", gid, sgname, acct, region,
                 tags_for(env, "network", "internal") if sgname != "default" else {},
                 {"groupName": sgname if sgname == "default" else f"{env}-{sgname}", "groupId": gid, "vpcId": vpc, "ownerId": acct,
                  "description": f"{sgname} security group", "ipPermissions": rules, "ipPermissionsEgress": egress if sgname != "default" or rules else []})
        # ALB and listeners
        lbname = f"{env}-shop-alb"
        lbid = hexid(16)
        lbarn = f"arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/app/{lbname}/{lbid}"
        attrs = [{"key": "access_logs.s3.enabled", "value": "true" if maybe(0.6) else "false"},
                 {"key": "deletion_protection.enabled", "value": "true" if prod else "false"},
                 {"key": "routing.http.drop_invalid_header_fields.enabled", "value": "true" if maybe(0.5) else "false"},
                 {"key": "routing.http.desync_mitigation_mode", "value": "defensive" if maybe(0.8) else "monitor"}]
        item("AWS::ElasticLoadBalancingV2::LoadBalancer", lbarn, lbarn, lbname, acct, region, tags_for(env, "web", "public"),
             {"loadBalancerArn": lbarn, "dNSName": f"{lbname}-{lbid[:8]}.{region}.elb.amazonaws.com", "loadBalancerName": lbname, "scheme": "internet-facing",
              "vpcId": vpc, "type": "application", "availabilityZones": [{"zoneName": f"{region}a", "subnetId": subnets[0]}] + ([{"zoneName": f"{region}b", "subnetId": subnets[1]}] if prod or maybe(0.5) else []),
              "securityGroups": [sgs["alb"]], "ipAddressType": "ipv4"},
             {"LoadBalancerAttributes": json.dumps(attrs)})
        for port, proto in [(80, "HTTP"), (443, "HTTPS")]:
            larn = f"arn:aws:elasticloadbalancing:{region}:{acct}:listener/app/{lbname}/{lbid}/{hexid(16)}"
            if proto == "HTTP":
                actions = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}] if (prod or maybe(0.5)) else [{"Type": "forward", "TargetGroupArn": "tg"}]
            else:
                actions = [{"Type": "forward", "TargetGroupArn": "tg"}]
            item("AWS::ElasticLoadBalancingV2::Listener", larn, larn, f"{lbname}:{port}", acct, region, {},
                 {"ListenerArn": larn, "LoadBalancerArn": lbarn, "Port": port, "Protocol": proto, "DefaultActions": actions})
        # ECS
        cname = f"{env}-shop"
        carn = f"arn:aws:ecs:{region}:{acct}:cluster/{cname}"
        item("AWS::ECS::Cluster", carn, cname, cname, acct, region, tags_for(env, "shop", "internal"),
             {"ClusterName": cname, "Arn": carn, "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled" if prod else "disabled"}]})
        for svc in ["web", "api", "worker"]:
            td_arn = f"arn:aws:ecs:{region}:{acct}:task-definition/{env}-{svc}:{rnd.randint(3, 40)}"
            env_vars = [{"Name": "STAGE", "Value": env}] + ([{"Name": "AWS_SECRET_ACCESS_KEY", "Value": "redacted"}] if (svc == "worker" and not prod) else [])
            item("AWS::ECS::TaskDefinition", td_arn, td_arn, f"{env}-{svc}", acct, region, tags_for(env, svc, "internal"),
                 {"TaskDefinitionArn": td_arn, "Family": f"{env}-{svc}", "NetworkMode": "awsvpc", "RequiresCompatibilities": ["FARGATE"],
                  "PidMode": None, "ContainerDefinitions": [{"Name": svc, "Image": f"{acct}.dkr.ecr.eu-west-1.amazonaws.com/shop/{svc}:1.{rnd.randint(0, 20)}",
                  "Privileged": False, "ReadonlyRootFilesystem": svc != "worker", "Environment": env_vars}]})
            sarn = f"arn:aws:ecs:{region}:{acct}:service/{cname}/{svc}"
            item("AWS::ECS::Service", sarn, sarn, svc, acct, region, tags_for(env, svc, "internal"),
                 {"ServiceArn": sarn, "ServiceName": svc, "Cluster": carn, "LaunchType": "FARGATE", "PlatformVersion": "LATEST" if maybe(0.7) else "1.3.0",
                  "TaskDefinition": td_arn, "DesiredCount": 2,
                  "NetworkConfiguration": {"AwsvpcConfiguration": {"Subnets": subnets[2:], "SecurityGroups": [sgs["web"]], "AssignPublicIp": "ENABLED" if (svc == "worker" and maybe(0.5)) else "DISABLED"}}})
        # RDS
        for db in ["orders", "catalog"]:
            dbid = f"{env}-{db}-{region.split('-')[0]}"
            encrypted = prod or maybe(0.5)
            cls = "restricted" if db == "orders" else "confidential"
            kms = (f"arn:aws:kms:{region}:{acct}:key/{hexid(8)}-{hexid(4)}-{hexid(4)}-{hexid(4)}-{hexid(12)}" if maybe(0.6) else f"arn:aws:kms:{region}:{acct}:alias/aws/rds") if encrypted else None
            item("AWS::RDS::DBInstance", f"arn:aws:rds:{region}:{acct}:db:{dbid}", "db-" + hexid(26).upper(), dbid, acct, region, tags_for(env, db, cls),
                 {"dBInstanceIdentifier": dbid, "dBInstanceClass": "db.r6g.large", "engine": "postgres", "engineVersion": "16.4",
                  "publiclyAccessible": (not prod and db == "catalog" and region == "us-east-1"), "storageEncrypted": encrypted, "kmsKeyId": kms,
                  "multiAZ": prod, "deletionProtection": prod and maybe(0.8), "backupRetentionPeriod": rnd.choice([1, 7, 14, 35]) if prod else rnd.choice([0, 1, 7]),
                  "autoMinorVersionUpgrade": maybe(0.7), "iAMDatabaseAuthenticationEnabled": maybe(0.3), "monitoringInterval": 60 if prod else 0,
                  "copyTagsToSnapshot": maybe(0.6), "dBSubnetGroup": {"dBSubnetGroupName": f"{env}-db", "vpcId": vpc}})
        # Lambda
        runtimes = ["python3.12", "python3.13", "nodejs20.x", "nodejs22.x", "java21", "python3.8", "nodejs16.x", "go1.x"]
        for fn in ["resize-images", "send-receipts", "nightly-report", "webhook-stripe", "cleanup-carts", "sitemap"]:
            fname = f"{env}-{fn}"
            farn = f"arn:aws:lambda:{region}:{acct}:function:{fname}"
            policy = None
            if fn == "webhook-stripe":
                policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "public-url", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl", "Resource": farn}
                                     if not prod else {"Sid": "apigw", "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "lambda:InvokeFunction", "Resource": farn, "Condition": {"ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{region}:{acct}:abc123/*"}}}]})
            vpc_subnets = subnets[2:3] if fn == "nightly-report" else (subnets[2:] if fn == "send-receipts" else [])
            variables = {"STAGE": env}
            if fn == "nightly-report" and not prod:
                variables["DB_PASSWORD"] = "hunter2"
            item("AWS::Lambda::Function", farn, fname, fname, acct, region, tags_for(env, fn, "internal"),
                 {"functionName": fname, "functionArn": farn, "runtime": rnd.choice(runtimes), "role": f"arn:aws:iam::{acct}:role/{fname}", "handler": "index.handler",
                  "memorySize": 256, "timeout": 30, "vpcConfig": {"subnetIds": vpc_subnets, "securityGroupIds": [sgs["web"]] if vpc_subnets else []},
                  "environment": {"variables": variables}},
                 {"Policy": policy} if policy else {})
        # EC2 and EBS
        for n in range(10):
            iid = "i-" + hexid(17)
            role = ["bastion", "batch", "batch", "batch", "search", "search", "legacy-app", "build", "build", "monitoring"][n]
            stopped = role == "legacy-app" or (role == "build" and maybe(0.5))
            public_ip = f"203.0.113.{rnd.randint(2, 250)}" if role in ("bastion",) or (role == "legacy-app" and not prod) else None
            itype = rnd.choice(["t3.medium", "m6i.large", "c6i.xlarge", "m4.large", "r6i.large"])
            item("AWS::EC2::Instance", f"arn:aws:ec2:{region}:{acct}:instance/{iid}", iid, f"{env}-{role}-{n}", acct, region,
                 {**tags_for(env, role, "internal"), "Name": f"{env}-{role}-{n}"},
                 {"instanceId": iid, "imageId": "ami-" + hexid(17), "instanceType": itype, "vpcId": vpc, "subnetId": subnets[0 if public_ip else 2],
                  "state": {"code": 80 if stopped else 16, "name": "stopped" if stopped else "running"},
                  "stateTransitionReason": ("User initiated (2026-0%d-1%d 08:15:00 GMT)" % (rnd.choice([3, 6, 9]), rnd.randint(0, 9))) if stopped else "",
                  "publicIpAddress": public_ip, "privateIpAddress": f"10.2.{n}.{rnd.randint(4, 250)}",
                  "metadataOptions": {"httpTokens": "required" if maybe(0.6) else "optional", "httpEndpoint": "enabled"},
                  "securityGroups": [{"groupId": sgs["bastion" if role == "bastion" else "web"]}]})
        for n in range(14):
            vid = "vol-" + hexid(17)
            item("AWS::EC2::Volume", f"arn:aws:ec2:{region}:{acct}:volume/{vid}", vid, vid, acct, region, tags_for(env, "compute", "internal", owner=maybe(0.5)),
                 {"volumeId": vid, "size": rnd.choice([8, 20, 100, 500]), "volumeType": "gp3", "encrypted": prod or maybe(0.6),
                  "availabilityZone": f"{region}a", "state": rnd.choice(["in-use", "in-use", "available"])})

for rec in out:
    sys.stdout.write(json.dumps(rec, separators=(",", ":")) + "\n")
