import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Where the Kubernetes connection comes from, in kubectl's order of preference for an agent:
 * an explicit --kubeconfig, then $KUBECONFIG, then the in-cluster service account.
 */
export function loadKubeConfig(opts: { kubeconfigPath?: string; env?: NodeJS.ProcessEnv } = {}): KubeConfig {
  const kc = new KubeConfig();
  const env = opts.env ?? process.env;
  if (opts.kubeconfigPath) {
    kc.loadFromFile(opts.kubeconfigPath);
  } else if (env.KUBECONFIG) {
    kc.loadFromDefault();
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: set --kubeconfig or KUBECONFIG, or run in a pod with a service account');
  }
  return kc;
}

export function kubeConfigFromString(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}
