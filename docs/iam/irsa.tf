# Spot Guard's IAM role, for IRSA (IAM Roles for Service Accounts) or EKS Pod Identity.
# Least privilege: describe calls on "*" (they support no resource-level permissions), the two write
# calls only on the spot and on-demand groups. Mirrors docs/iam/spot-guard-policy.json
# (test/chart/iam.test.ts checks that file against the Auto Scaling calls in src/).

variable "cluster_name" { type = string }
variable "spot_asg_name" { type = string }
variable "on_demand_asg_name" { type = string }
variable "namespace" {
  type    = string
  default = "kube-system"
}
variable "service_account" {
  type    = string
  default = "spot-guard" # the chart's service account for release "spot-guard"
}
variable "use_pod_identity" {
  type    = bool
  default = false # false = IRSA
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_eks_cluster" "this" { name = var.cluster_name }

locals {
  asg_arn = "arn:aws:autoscaling:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName"
  oidc    = replace(data.aws_eks_cluster.this.identity[0].oidc[0].issuer, "https://", "")
}

data "aws_iam_policy_document" "spot_guard" {
  statement {
    sid = "DescribeAutoScaling"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeScalingActivities",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "ScaleTheTwoGroupsOnly"
    actions   = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    resources = ["${local.asg_arn}/${var.spot_asg_name}", "${local.asg_arn}/${var.on_demand_asg_name}"]
  }
}

resource "aws_iam_policy" "spot_guard" {
  name   = "spot-guard-${var.cluster_name}"
  policy = data.aws_iam_policy_document.spot_guard.json
}

# Who may assume the role: the chart's service account through the cluster's OIDC provider (IRSA),
# or the EKS Pod Identity agent.
data "aws_iam_policy_document" "assume" {
  dynamic "statement" {
    for_each = var.use_pod_identity ? [] : [1]
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]
      principals {
        type        = "Federated"
        identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.oidc}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc}:sub"
        values   = ["system:serviceaccount:${var.namespace}:${var.service_account}"]
      }
      condition {
        test     = "StringEquals"
        variable = "${local.oidc}:aud"
        values   = ["sts.amazonaws.com"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.use_pod_identity ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]
      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "spot_guard" {
  name               = "spot-guard-${var.cluster_name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "spot_guard" {
  role       = aws_iam_role.spot_guard.name
  policy_arn = aws_iam_policy.spot_guard.arn
}

# EKS Pod Identity only (needs the eks-pod-identity-agent add-on).
resource "aws_eks_pod_identity_association" "spot_guard" {
  count           = var.use_pod_identity ? 1 : 0
  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = var.service_account
  role_arn        = aws_iam_role.spot_guard.arn
}

# IRSA: pass this to the chart as
#   --set serviceAccount.annotations."eks\.amazonaws\.com/role-arn"=<role_arn>
output "role_arn" { value = aws_iam_role.spot_guard.arn }
