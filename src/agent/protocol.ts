/**
 * The agent's wire protocol shared by its server (src/agent/server.ts) and the cloning client
 * (src/agent/clone.ts): the headers and trailers of `GET /backup`.
 */
/** Trailer that marks a complete copy. */
export const COMPLETE_TRAILER = "x-metamysql-backup";
/**
 * Response header: the donor's `@@gtid_binlog_state` read just before the copy starts (MariaDB).
 * The copy's position names only the last GTID of each domain; a clone that became primary with
 * only that as its binary log state would make every other instance look errant (their entries
 * of earlier server_ids would be unknown to it). Read before the copy, every entry is at or
 * before the copy's position (GTID sequence numbers only grow within a domain).
 */
export const BINLOG_STATE_HEADER = "x-metamysql-gtid-binlog-state";
