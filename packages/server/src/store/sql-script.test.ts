import { describe, expect, it } from "vitest";
import { splitSqlStatements } from "./sql-script.js";

describe("splitSqlStatements", () => {
  it("splits on semicolons and drops empty and comment-only statements", () => {
    expect(
      splitSqlStatements("create table a (x text);\n\n;create index i on a (x);\n-- trailing note;\n"),
    ).toEqual(["create table a (x text)", "create index i on a (x)"]);
  });

  it("does not split inside strings, quoted identifiers, comments or dollar-quoted bodies", () => {
    const script = [
      "insert into a values ('x;y', 'it''s;');",
      'create table "odd;name" (x text);',
      "/* a; b */ select 1;",
      "create function f() returns int as $body$ select 1; $body$ language sql;",
      "select $$;$$",
    ].join("\n");
    expect(splitSqlStatements(script)).toEqual([
      "insert into a values ('x;y', 'it''s;')",
      'create table "odd;name" (x text)',
      "/* a; b */ select 1",
      "create function f() returns int as $body$ select 1; $body$ language sql",
      "select $$;$$",
    ]);
  });
});
