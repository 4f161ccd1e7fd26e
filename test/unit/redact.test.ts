/**
 * Redaction at the boundary (src/api/redact.ts) and errors without SQL text
 * (src/mysql/connection.ts), issue 10 item 2. The real-server cases are in
 * test/integration/secret-leaks.test.ts.
 */
import { describe, expect, it } from "vitest";
import { REDACTED, redactSecrets } from "../../src/api/redact.js";
import { MysqlError, wrapError } from "../../src/mysql/connection.js";
import { loggableError } from "../../src/server/app.js";

describe("redactSecrets", () => {
  it.each([
    ["MariaDB CHANGE MASTER", "CHANGE MASTER TO MASTER_HOST='10.0.0.1', MASTER_USER='repl', MASTER_PASSWORD='s3cr\\'et\\\\Pw', MASTER_USE_GTID=slave_pos"],
    ["MySQL CHANGE REPLICATION SOURCE", "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.1', SOURCE_PASSWORD = 's3cr''et\\\\Pw', SOURCE_AUTO_POSITION=1"],
    ["unquoted MASTER_PASSWORD", "MASTER_PASSWORD=s3cr'et\\Pw"],
    ["CREATE USER IDENTIFIED BY", "CREATE USER 'a'@'%' IDENTIFIED BY 's3cr\\'et\\\\Pw'"],
    ["IDENTIFIED WITH plugin BY", 'ALTER USER a IDENTIFIED WITH mysql_native_password BY "s3cr\'et\\\\Pw"'],
    ["IDENTIFIED BY PASSWORD", "GRANT ALL ON *.* TO a IDENTIFIED BY PASSWORD 's3cr\\'et\\\\Pw'"],
    ["PASSWORD()", "SET PASSWORD FOR a = PASSWORD('s3cr\\'et\\\\Pw')"],
    ["key: value", "password: s3cr'et\\Pw"],
    ["JSON", '{"replication-password":"s3cr\'et\\\\Pw"}'],
    [
      "syntax error quoting the statement",
      "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'x, MASTER_PASSWORD='s3cr\\'et\\\\Pw'' at line 1",
    ],
    ["syntax error cut off", "error near 'MASTER_PASSWORD='s3cr\\'et\\\\Pw"],
    ["too long value", "String 's3cr'et\\Pw' is too long for MASTER_PASSWORD (should be no longer than 96)"],
  ])("%s", (_name, text) => {
    const out = redactSecrets(text);
    expect(out).toContain(REDACTED);
    expect(out).not.toMatch(/s3cr/);
    expect(out).not.toMatch(/et\\*Pw/);
  });

  it("keeps what is not a secret", () => {
    for (const text of [
      "change source on 10.0.0.2: Access denied; you need (at least one of) the SUPER privilege(s) for this operation (ER_SPECIFIC_ACCESS_DENIED_ERROR 1227)",
      "Secret shop-secrets is missing or lacks keys: replication-password, operator-password",
      "connect 10.0.0.1:3306: timed out after 1000 ms",
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });
});

describe("MySQL errors carry no SQL text", () => {
  const driverError = Object.assign(new Error("You have an error in your SQL syntax; ... near 'MASTER_PASSWORD='s3cr\\'et' at line 1"), {
    code: "ER_PARSE_ERROR",
    errno: 1064,
    sql: "CHANGE MASTER TO X, MASTER_PASSWORD='s3cr\\'et'",
  });

  it("wrapError names the context, keeps code and errno, redacts the server's message and drops the driver error", () => {
    const err = wrapError("change source on 10.0.0.2", driverError);
    expect(err).toBeInstanceOf(MysqlError);
    expect(err.message).toBe(`change source on 10.0.0.2: You have an error in your SQL syntax; ... near ${REDACTED} at line 1 (ER_PARSE_ERROR 1064)`);
    expect(err.code).toBe("ER_PARSE_ERROR");
    expect(err.errno).toBe(1064);
    expect(err.cause).toBeUndefined();
    expect(JSON.stringify(err)).not.toContain("s3cr");
    // rewrapping keeps code and errno (killClientConnections tests errno 1094)
    const outer = wrapError("kill connection 7 on 10.0.0.2", err);
    expect(outer.errno).toBe(1064);
    expect(outer.message).toMatch(/^kill connection 7 on 10\.0\.0\.2: change source on 10\.0\.0\.2: /);
  });

  it("loggableError is type, code and redacted message and stack only", () => {
    const err = Object.assign(new Error("change source failed: MASTER_PASSWORD='s3cr\\'et'"), { code: "X", sql: "MASTER_PASSWORD='s3cr'" });
    const logged = loggableError(err);
    expect(Object.keys(logged).sort()).toEqual(["code", "message", "stack", "type"]);
    expect(JSON.stringify(logged)).not.toContain("s3cr");
  });
});
