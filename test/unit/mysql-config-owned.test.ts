/**
 * spec.mysqlConfig cannot reach an operator-owned or code-loading option through the prefixes
 * the server strips (`loose_`, `skip_`, `enable_`, `disable_`, `maximum_`), dashes or case
 * (issue 10, item 3: `loose_read_only=OFF`, `skip_log_bin`, `loose_gtid_strict_mode=OFF` and
 * `loose_init_file` passed validation and mariadbd honoured them).
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, OPERATOR_OWNED_OPTIONS, OWNED_OPTION_NAMES, optionNameForms, ownedOptionOf } from "../../src/api/cluster.js";
import { renderMyCnf } from "../../src/render/mycnf.js";

function issuesOf(key: string, value: string | number = "1"): Array<{ path: string; message: string }> {
  const r = MySQLClusterSpecSchema.safeParse({ mysqlConfig: { [key]: value } });
  return (r.error?.issues ?? []).map((i) => ({ path: i.path.join("."), message: i.message }));
}

describe("optionNameForms", () => {
  it("strips the server's prefixes repeatedly, after dashes and case", () => {
    expect(optionNameForms("Loose-Skip-Log-Bin")).toEqual(["loose_skip_log_bin", "skip_log_bin", "log_bin"]);
    expect(optionNameForms("maximum-enable_disable-read_only")).toEqual([
      "maximum_enable_disable_read_only",
      "enable_disable_read_only",
      "disable_read_only",
      "read_only",
    ]);
    expect(optionNameForms("max_connections")).toEqual(["max_connections"]);
    // a bare prefix is a name, not a prefix of nothing
    expect(optionNameForms("skip_")).toEqual(["skip_"]);
  });
});

describe("mysqlConfig: owned options behind prefixes are rejected, naming the field and the option", () => {
  it.each([
    ["loose_read_only", "read_only"],
    ["skip_log_bin", "log_bin"],
    ["loose_gtid_strict_mode", "gtid_strict_mode"],
    ["loose_init_file", "init_file"],
    ["loose-skip-log-bin", "log_bin"],
    ["LOOSE_READ_ONLY", "read_only"],
    ["disable-super-read-only", "super_read_only"],
    ["enable_read_only", "read_only"],
    ["maximum_read_only", "read_only"],
    ["disable_log_slave_updates", "log_slave_updates"],
    ["loose_rpl_semi_sync_master_enabled", "rpl_semi_sync_master_enabled"],
    ["loose_skip_slave_start", "skip_slave_start"],
    ["loose_skip_networking", "skip_networking"],
    ["loose-server-id", "server_id"],
  ])("%s -> %s", (key, owned) => {
    expect(ownedOptionOf(key)).toBe(owned);
    const issues = issuesOf(key, "OFF");
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe(`mysqlConfig.${key}`);
    expect(issues[0]?.message).toContain(`"${key}"`);
    expect(issues[0]?.message).toContain(`"${owned}"`);
    expect(issues[0]?.message).toContain("managed by the operator");
  });

  it.each([
    "init_file",
    "init_connect",
    "init_slave",
    "init_replica",
    "loose_init_connect",
    "secure_file_priv",
    "loose_secure_file_priv",
    "plugin_load",
    "plugin_load_add",
    "plugin-load-add",
    "loose_plugin_load_add",
    "early_plugin_load",
    "plugin_dir",
    "plugin_maturity",
    "wsrep_provider",
    "skip_grant_tables",
    "loose-skip-grant-tables",
    "general_log_file",
    "slow_query_log_file",
    "log_error",
    "log-error",
    "datadir",
    "socket",
    "port",
    "bind_address",
    "user",
    "tmpdir",
    "basedir",
    "innodb_data_home_dir",
    "skip_slave_start",
    "skip_replica_start",
  ])("denies %s (loads code, bypasses authentication, or reads or writes a path the operator owns)", (key) => {
    expect(ownedOptionOf(key)).toBeDefined();
    expect(issuesOf(key)).toHaveLength(1);
  });

  it.each([
    "max_connections",
    "innodb_buffer_pool_size",
    "skip_name_resolve",
    "loose_innodb_print_all_deadlocks",
    "slow_query_log",
    "general_log",
    "sql_mode",
    "long_query_time",
  ])("allows %s", (key) => {
    expect(ownedOptionOf(key)).toBeUndefined();
    expect(issuesOf(key)).toEqual([]);
  });

  it.each([
    ["read_onl", "read_only"],
    ["loose_read_on", "read_only"],
    ["init_fil", "init_file"],
    ["gtid_strict", "gtid_strict"],
    ["gtid", "gtid_"],
    ["skip_log_b", "log_bin"],
    ["skip_grant", "skip_grant_tables"],
    ["plugin_load_a", "plugin_load_add"],
    ["secure_file", "secure_file_priv"],
  ])("denies %s: MariaDB reads an unambiguous prefix as the option (getopt_prefix_matching)", (key, target) => {
    expect(ownedOptionOf(key)).toBe(target);
    expect(issuesOf(key)[0]?.message).toContain(`"${target}"`);
  });

  it("every name used for prefix matching is itself denied", () => {
    for (const name of OWNED_OPTION_NAMES) {
      const full = name.endsWith("_") ? `${name}x` : name;
      expect(
        OPERATOR_OWNED_OPTIONS.some((re) => re.test(full)),
        name,
      ).toBe(true);
    }
  });

  it("renders allowed prefixed options as written (the server strips the prefix itself)", () => {
    const spec = MySQLClusterSpecSchema.parse({ flavor: "mariadb", mysqlConfig: { "loose-innodb-print-all-deadlocks": "ON" } });
    expect(renderMyCnf(spec, "shop")).toContain("loose_innodb_print_all_deadlocks = ON\n");
  });
});
