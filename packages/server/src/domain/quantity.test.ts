import { describe, expect, it } from "vitest";
import { parseBytes, parseCpus } from "./quantity.js";

describe("quantities", () => {
  it("parse CPU cores", () => {
    expect(parseCpus(1)).toBe(1);
    expect(parseCpus("2")).toBe(2);
    expect(parseCpus("500m")).toBe(0.5);
    expect(parseCpus(".25")).toBe(0.25);
    for (const bad of [0, -1, "0", "0m", "1Gi", "lots", "", Number.NaN])
      expect(parseCpus(bad)).toBeUndefined();
  });

  it("parse bytes in binary and decimal units", () => {
    expect(parseBytes("8Gi")).toBe(8 * 2 ** 30);
    expect(parseBytes("512Mi")).toBe(512 * 2 ** 20);
    expect(parseBytes("1G")).toBe(1e9);
    expect(parseBytes("1024")).toBe(1024);
    expect(parseBytes(2048)).toBe(2048);
    for (const bad of [0, "0Gi", "8gb", "8 Gi", "Gi", ""]) expect(parseBytes(bad)).toBeUndefined();
  });
});
