// `ops metrics record-deployment`: what a pipeline calls at both ends of a deployment. The
// arguments are checked here first so a typo in a workflow file is a usage error (exit 2) with
// the flag's name, not a database error about a p_ parameter.
import { asOperator, type Operator, type Sql, UsageError } from './connection.ts'

export const ENVIRONMENTS = ['staging', 'production'] as const
export const DEPLOYMENT_STATUSES = ['started', 'succeeded', 'failed', 'rolled_back'] as const

export interface Deployment {
  environment: string
  component: string
  version: string
  gitSha: string
  status: string
}

export interface DeploymentFlags {
  environment?: string
  component?: string
  version?: string
  'git-sha'?: string
  status?: string
}

export function parseDeployment(v: DeploymentFlags): Deployment {
  const need = (flag: keyof DeploymentFlags) => {
    const value = v[flag]?.trim()
    if (!value) throw new UsageError(`--${flag} is required`)
    return value
  }
  const d = {
    environment: need('environment'),
    component: need('component'),
    version: need('version'),
    gitSha: need('git-sha'),
    status: v.status?.trim() || 'started',
  }
  if (!(ENVIRONMENTS as readonly string[]).includes(d.environment)) {
    throw new UsageError(`--environment must be one of: ${ENVIRONMENTS.join(', ')}`)
  }
  if (d.component.length > 100) throw new UsageError('--component must be 1 to 100 characters')
  if (d.version.length > 100) throw new UsageError('--version must be 1 to 100 characters')
  if (!/^[0-9a-f]{7,40}$/.test(d.gitSha)) {
    throw new UsageError('--git-sha must be 7 to 40 lowercase hex digits')
  }
  if (!(DEPLOYMENT_STATUSES as readonly string[]).includes(d.status)) {
    throw new UsageError(`--status must be one of: ${DEPLOYMENT_STATUSES.join(', ')}`)
  }
  return d
}

/** Records the deployment and its ledger row in one transaction; returns the deployment's id. */
export async function recordDeployment(sql: Sql, op: Operator, d: Deployment): Promise<number> {
  return await asOperator(sql, op, async (tx) => {
    const [{ id }] = await tx`
      select metrics.record_deployment(p_environment => ${d.environment}::text,
                                       p_component => ${d.component}::text,
                                       p_version => ${d.version}::text,
                                       p_git_sha => ${d.gitSha}::text,
                                       p_status => ${d.status}::text) as id`
    await tx`select public.record_ai_action('metrics.record_deployment', 'metrics.deployments',
                                            null, ${
      JSON.stringify({ id: Number(id), ...d })
    }::text::jsonb)`
    return Number(id)
  })
}
