/**
 * The per-host instance reconciler: compares the desired state in the store with what the
 * compute driver reports and takes idempotent steps until they agree.
 */
import type { ControlPlane } from '../services/context.js';

export class InstanceReconciler {
  constructor(private readonly plane: Omit<ControlPlane, 'kick'>) {}

  /** Asks for a reconcile pass soon. */
  kick(): void {}

  start(): void {}

  async stop(): Promise<void> {}
}
