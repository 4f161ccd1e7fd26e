/**
 * The automatic rebuild rule (src/topology/repair.ts, docs/clustering.md "Automatic rebuild"):
 * only a provably unacknowledged tail of the last failover's old primary, or a replica that needs
 * purged binary logs, is rebuilt; anything else stays for a human; Manual never rebuilds.
 */
import { describe, expect, it } from "vitest";
import { repairVerdict, savedFileName, type RepairInput } from "../../src/topology/repair.js";

// db-0 (server_id 100) was primary up to 0-100-50 acknowledged; it wrote 51..53 unacknowledged, then db-1 was promoted.
const proven = (): RepairInput => ({
  mode: "Rebuild",
  flavor: "mariadb",
  durability: "lossless",
  agentEnabled: true,
  lastOperation: { type: "Failover", from: "db-0", to: "db-1", reason: "primary down", time: "2030-01-01T00:00:00Z" },
  primaryState: "0-100-50,0-101-60",
  candidate: { name: "db-0", serverId: 100, gtidState: "0-100-53", ioErrno: undefined },
  peers: [{ name: "db-2", gtidState: "0-100-50,0-101-60", receivedGtids: "0-101-60" }],
});

describe("repairVerdict", () => {
  it("rebuilds the proven case and saves exactly the tail after the failover point", () => {
    const v = repairVerdict(proven());
    expect(v).toMatchObject({ rebuild: true, save: { start: "0-100-50", stop: "0-100-53", serverId: 100 }, savedFile: savedFileName("0-100-53") });
    expect(v.rebuild && v.savedFile).toBe(".metamysql-saved/errant-0-100-53.sql");
  });

  it("never rebuilds with Manual", () => {
    expect(repairVerdict({ ...proven(), mode: "Manual" })).toMatchObject({ rebuild: false });
    expect(repairVerdict({ ...proven(), mode: "Manual", candidate: { ...proven().candidate, gtidState: "0-100-50", ioErrno: 1236 } })).toMatchObject({
      rebuild: false,
    });
  });

  it("keeps quarantined: async durability, MySQL, no agent", () => {
    expect(repairVerdict({ ...proven(), durability: "async" })).toMatchObject({ rebuild: false, reason: expect.stringContaining("lossless") });
    expect(repairVerdict({ ...proven(), flavor: "mysql" })).toMatchObject({ rebuild: false });
    expect(repairVerdict({ ...proven(), agentEnabled: false })).toMatchObject({ rebuild: false });
  });

  it("keeps quarantined an instance that is not the last failover's old primary", () => {
    expect(repairVerdict({ ...proven(), lastOperation: undefined })).toMatchObject({ rebuild: false });
    expect(repairVerdict({ ...proven(), lastOperation: { ...proven().lastOperation!, type: "Switchover" } })).toMatchObject({ rebuild: false });
    expect(repairVerdict({ ...proven(), lastOperation: { ...proven().lastOperation!, from: "db-2" } })).toMatchObject({ rebuild: false });
  });

  it("keeps quarantined extra transactions written by another server", () => {
    const v = repairVerdict({ ...proven(), candidate: { ...proven().candidate, gtidState: "0-100-53,1-102-4" } });
    expect(v).toMatchObject({ rebuild: false, reason: expect.stringContaining("1-102-4") });
  });

  it("keeps quarantined a tail that a replica received or holds (it may have been acknowledged)", () => {
    expect(repairVerdict({ ...proven(), peers: [{ name: "db-2", gtidState: "0-100-50,0-101-60", receivedGtids: "0-100-51" }] })).toMatchObject({
      rebuild: false,
      reason: expect.stringContaining("db-2 received 0-100-51"),
    });
    expect(repairVerdict({ ...proven(), peers: [{ name: "db-2", gtidState: "0-100-52", receivedGtids: "" }] })).toMatchObject({ rebuild: false });
  });

  it("keeps quarantined when a peer cannot be probed (nothing proven)", () => {
    expect(repairVerdict({ ...proven(), peers: [{ name: "db-2", gtidState: undefined, receivedGtids: "" }] })).toMatchObject({
      rebuild: false,
      reason: expect.stringContaining("not reachable"),
    });
  });

  it("rebuilds a replica that needs purged binary logs, with nothing to save", () => {
    const input: RepairInput = { ...proven(), lastOperation: undefined, candidate: { name: "db-2", serverId: 102, gtidState: "0-100-10", ioErrno: 1236 } };
    expect(repairVerdict(input)).toEqual({ rebuild: true, reason: expect.stringContaining("purged") as unknown, save: undefined, savedFile: undefined });
    // other replication errors are not a reason to rebuild
    expect(repairVerdict({ ...input, candidate: { ...input.candidate, ioErrno: 1045 } })).toMatchObject({ rebuild: false });
  });

  it("is deterministic", () => {
    expect(repairVerdict(proven())).toEqual(repairVerdict(proven()));
  });
});
