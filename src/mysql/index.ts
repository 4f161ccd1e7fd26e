/**
 * Database I/O (mysql2): observe (read-only probes) and act (one verb per function), flavors,
 * and the composed switchover/failover operations. ARCHITECTURE.md section 1 `mysql/`.
 */
export { connect, withSession, MysqlError, type ConnectOptions, type Session, type Row } from "./connection.js";
export { readInstanceStatus, probe, parseReplicaStatus, parseSemiSync } from "./observe.js";
export {
  setReadOnly,
  killClientConnections,
  stopReceiving,
  stopReplication,
  waitForGtid,
  setSemiSyncSource,
  setSemiSyncReplica,
  changeSource,
  promote,
  demoteToReplica,
  readPrimaryPosition,
  isWritable,
  type SourceOptions,
} from "./act.js";
export {
  switchover,
  failover,
  fence,
  runOperation,
  OperationAborted,
  OperationDeferred,
  OPERATION_LOCK,
  lockInstances,
  type Member,
  type OperationConfig,
  type OperationResult,
  type SwitchoverPlan,
  type FailoverPlan,
  type Resolve,
} from "./operations.js";
export { dialectFor, mariadbDialect, mysqlDialect, installSemiSyncPlugins, quoteString, quoteIdent, quoteAccount } from "./sql/index.js";
export type { Dialect, ChangeSourceOptions, SemiSyncSourceOptions, BoundQuery } from "./sql/index.js";
export { rotatePasswords, ownPasswordStatement, type PasswordChange, type RotationPlan } from "./rotate.js";
