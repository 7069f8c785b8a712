// Decides a batch of IAM requests with @cloud-copilot/iam-simulate, AWS's documented evaluation
// logic (identity, resource, boundary policies; explicit denies; the KMS and trust-policy rules).
// stdin: a JSON array of requests; stdout: a JSON array of decisions, in the same order.
//   request: {principal, action, resource, account, context, identity: [{name, policy}],
//             resourcePolicy?, boundary?: {name, policy},
//             serviceControlPolicies?, resourceControlPolicies?: [{orgIdentifier, policies: [{name, policy}]}]}
//   decision: {decision: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//              deciding: ["<policy>#<Sid>", ...], ignoredContextKeys: [...], errors?: "...", engine}
// The checked API (runSimulation) refuses unknown actions and resources, and names the context keys
// it ignored; the unchecked one (runUnsafeSimulation) decides requests whose only ignored keys are
// ones it cannot know (below), after the checked run has validated the rest.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

// Context keys the checked API does not know and drops: KMS encryption context keys, and the claims
// of GitHub's OIDC provider. Only these fall back to the unchecked API; any other ignored key is
// reported, so that a misspelled key cannot decide a row.
const UNCHECKED_PREFIXES = ['kms:encryptioncontext:', 'token.actions.githubusercontent.com:']
const unchecked = (key) => UNCHECKED_PREFIXES.some((prefix) => key.toLowerCase().startsWith(prefix))

// The checked API refuses an Allow in a resource control policy and counts AWS's RCPFullAWSAccess
// by itself; the unchecked one denies implicitly without it, so it is given the policy AWS attaches.
const RCP_FULL_AWS_ACCESS = {
  name: 'RCPFullAWSAccess',
  policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }] }
}

function simulation(request, context, wrapResourcePolicy = false) {
  // runUnsafeSimulation loads the resource policy without a name and fails on it unless it comes
  // already wrapped as a validated policy (the shape @cloud-copilot/iam-policy gives one).
  const resourcePolicy = request.resourcePolicy && wrapResourcePolicy
    ? { __validated: true, policyDocument: request.resourcePolicy, metadata: { name: 'resource' }, errors: [] }
    : request.resourcePolicy ?? undefined
  return {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: context
    },
    identityPolicies: request.identity,
    serviceControlPolicies: request.serviceControlPolicies ?? [],
    resourceControlPolicies: (request.resourceControlPolicies ?? []).map((level) =>
      wrapResourcePolicy ? { ...level, policies: [RCP_FULL_AWS_ACCESS, ...level.policies] } : level),
    resourcePolicy,
    permissionBoundaryPolicies: request.boundary ? [request.boundary] : undefined
  }
}

function statementsOf(analysis) {
  if (!analysis) return []
  const named = (list, kind) =>
    (list ?? []).map((s) => `${kind === 'identity' ? s.policyId : kind}#${s.statement.sid?.() ?? s.statement.index?.()}`)
  const parts = [
    ['identity', analysis.identityAnalysis],
    ['resource', analysis.resourceAnalysis],
    ['boundary', analysis.permissionBoundaryAnalysis],
    ...(analysis.scpAnalysis?.ouAnalysis ?? []).map((level) => ['scp', level]),
    ...(analysis.rcpAnalysis?.ouAnalysis ?? []).map((level) => ['rcp', level])
  ]
  const denies = parts.flatMap(([kind, part]) => named(part?.denyStatements, kind))
  if (denies.length > 0) return denies
  return parts.flatMap(([kind, part]) => named(part?.allowStatements, kind))
}

async function decide(request) {
  const context = request.context ?? {}
  const strict = await runSimulation(simulation(request, context), {})
  if (strict.resultType === 'error') {
    return { decision: 'Error', deciding: [], ignoredContextKeys: [], errors: JSON.stringify(strict.errors), engine: 'strict' }
  }
  if (strict.resultType !== 'single') {
    return { decision: 'Error', deciding: [], ignoredContextKeys: [], errors: `expected one resource, got ${strict.resultType}`, engine: 'strict' }
  }
  const ignored = strict.result.ignoredContextKeys ?? []
  const deciding = statementsOf(strict.result.analysis)
  const reported = ignored.filter((key) => !unchecked(key))
  if (ignored.length === 0 || reported.length > 0) {
    return { decision: strict.overallResult, deciding, ignoredContextKeys: reported, engine: 'strict' }
  }
  // The unchecked API returns the decision only: the statements are the checked run's, which did
  // not see the dropped keys.
  const decision = runUnsafeSimulation(simulation(request, context, true), {})
  return { decision, deciding, ignoredContextKeys: [], engine: 'unchecked' }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const requests = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const decisions = []
for (const request of requests) {
  try {
    decisions.push(await decide(request))
  } catch (error) {
    decisions.push({ decision: 'Error', deciding: [], ignoredContextKeys: [], errors: String(error?.stack ?? error), engine: 'none' })
  }
}
process.stdout.write(JSON.stringify(decisions))
