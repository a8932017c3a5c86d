"""The IAM policy engine: parse policies strictly, decide requests as AWS does.

Pure logic, no I/O. ``parse_policy`` validates a document for its use and compiles it;
``evaluate`` decides one request against every policy that applies to it.

    MalformedPolicyDocument (a sagebox ValidationError)  a policy that cannot be stored
"""

from sagebox.iam.evaluation import (
    Decision,
    MatchedStatement,
    NamedPolicy,
    PolicySet,
    RequestContext,
    evaluate,
    is_trusted,
)
from sagebox.iam.policy import (
    MalformedPolicyDocument,
    Policy,
    PolicyKind,
    Statement,
    parse_policy,
)

__all__ = [
    "Decision",
    "MalformedPolicyDocument",
    "MatchedStatement",
    "NamedPolicy",
    "Policy",
    "PolicyKind",
    "PolicySet",
    "RequestContext",
    "Statement",
    "evaluate",
    "is_trusted",
    "parse_policy",
]
