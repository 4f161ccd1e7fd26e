import { describe, expect, it } from "vitest";
import {
  errantTransactions,
  formatMariaGtidList,
  formatMysqlGtidSet,
  GtidParseError,
  gtidCovers,
  gtidIsEmpty,
  gtidMerge,
  mariaErrant,
  mariaPositionCovers,
  mariaPositionMerge,
  mysqlGtidCount,
  mysqlGtidSubtract,
  mysqlGtidUnion,
  parseMariaGtidList,
  parseMysqlGtidSet,
} from "../../src/topology/gtid.js";

const A = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const B = "4a5b6c7d-0000-11e1-9e33-c80aa9429562";

describe("MariaDB GTID lists", () => {
  it("parses and formats canonically", () => {
    expect(parseMariaGtidList("")).toEqual([]);
    expect(parseMariaGtidList(" 1-101-7, 0-100-5 ")).toEqual([
      { domain: 1, serverId: 101, seq: 7 },
      { domain: 0, serverId: 100, seq: 5 },
    ]);
    expect(formatMariaGtidList(parseMariaGtidList("1-101-7,0-102-1,0-100-5"))).toBe("0-100-5,0-102-1,1-101-7");
  });

  it.each(["0-100", "a-b-c", "0-100-5,,", "0-100--1", "0-100-99999999999999999999"])("rejects %j", (bad) => {
    expect(() => parseMariaGtidList(bad)).toThrow(GtidParseError);
  });

  const errantCases: [string, string, string, string][] = [
    ["identical", "0-100-10", "0-100-10", ""],
    ["subset (behind)", "0-100-7", "0-100-10", ""],
    ["empty instance", "", "0-100-10", ""],
    ["ahead on the same server_id (diverged old primary)", "0-100-12", "0-100-10,0-101-15", "0-100-12"],
    ["local write under its own server_id", "0-100-10,0-102-11", "0-100-10", "0-102-11"],
    ["other domain unknown to the primary", "0-100-10,1-102-3", "0-100-10", "1-102-3"],
    ["old primary behind after failover", "0-100-10", "0-100-10,0-101-20", ""],
  ];
  it.each(errantCases)("errant: %s", (_name, instance, primary, expected) => {
    expect(formatMariaGtidList(mariaErrant(instance, primary))).toBe(expected);
    expect(errantTransactions("mariadb", instance, primary)).toBe(expected);
  });

  it("compares and merges positions per domain", () => {
    expect(mariaPositionCovers("0-100-10,1-101-3", "0-101-9")).toBe(true);
    expect(mariaPositionCovers("0-100-10", "0-100-10,1-101-1")).toBe(false);
    expect(mariaPositionCovers("0-100-8", "0-100-9")).toBe(false);
    expect(mariaPositionCovers("", "")).toBe(true);
    expect(mariaPositionMerge("0-100-10", "0-101-12,1-100-2", "")).toBe("0-101-12,1-100-2");
    expect(gtidCovers("mariadb", "0-100-10", "")).toBe(true);
    expect(gtidMerge("mariadb", "0-100-3", "0-100-5")).toBe("0-100-5");
  });
});

describe("MySQL GTID sets", () => {
  it("parses multiple sources, newlines, single numbers and merges intervals", () => {
    const set = parseMysqlGtidSet(`${B}:1-3,\n${A.toUpperCase()}:1-5:7:6:10-12`);
    expect(formatMysqlGtidSet(set)).toBe(`${A}:1-7:10-12,${B}:1-3`);
    expect(mysqlGtidCount(set)).toBe(13);
    expect(formatMysqlGtidSet(parseMysqlGtidSet(""))).toBe("");
  });

  it("parses 8.4 tagged GTIDs", () => {
    const set = parseMysqlGtidSet(`${A}:1-5:blue:1-2:3`);
    expect(formatMysqlGtidSet(set)).toBe(`${A}:1-5,${A}:blue:1-3`);
  });

  it.each([`${A}`, `nothex:1-2`, `${A}:5-3`, `${A}:0`, `${A}:1-2:!`])("rejects %j", (bad) => {
    expect(() => parseMysqlGtidSet(bad)).toThrow(GtidParseError);
  });

  const subtractCases: [string, string, string, string][] = [
    ["subset", `${A}:1-5`, `${A}:1-10`, ""],
    ["equal", `${A}:1-10`, `${A}:1-10`, ""],
    ["ahead", `${A}:1-12`, `${A}:1-10`, `${A}:11-12`],
    ["hole in the middle", `${A}:1-10`, `${A}:1-4:6-10`, `${A}:5`],
    ["unknown source", `${A}:1-10,${B}:1`, `${A}:1-10`, `${B}:1`],
  ];
  it.each(subtractCases)("GTID_SUBTRACT: %s", (_name, a, b, expected) => {
    expect(formatMysqlGtidSet(mysqlGtidSubtract(parseMysqlGtidSet(a), parseMysqlGtidSet(b)))).toBe(expected);
    expect(errantTransactions("mysql", a, b)).toBe(expected);
    expect(gtidCovers("mysql", b, a)).toBe(expected === "");
  });

  it("unions", () => {
    const u = mysqlGtidUnion(parseMysqlGtidSet(`${A}:1-5`), parseMysqlGtidSet(`${A}:6-8,${B}:2`));
    expect(formatMysqlGtidSet(u)).toBe(`${A}:1-8,${B}:2`);
    expect(gtidMerge("mysql", `${A}:1-3`, `${A}:2-9`)).toBe(`${A}:1-9`);
    expect(gtidIsEmpty(" \n")).toBe(true);
  });
});
