import { describe, expect, it } from "vitest";
import { afterLogin, loginThenBackTo } from "./router";

describe("afterLogin", () => {
  it("comes back to a path of this site, and nowhere else", () => {
    expect(afterLogin("/invite?token=abc")).toBe("/invite?token=abc");
    expect(afterLogin(null)).toBe("/workflows");
    expect(afterLogin("https://evil.example")).toBe("/workflows");
    expect(afterLogin("//evil.example")).toBe("/workflows");
    expect(afterLogin("/\\evil.example")).toBe("/workflows");
  });

  it("round-trips through the login link", () => {
    const link = loginThenBackTo("/invite?token=a+b&x=1");
    expect(link).toBe("/login?next=%2Finvite%3Ftoken%3Da%2Bb%26x%3D1");
    expect(afterLogin(new URLSearchParams(link.split("?")[1]).get("next"))).toBe("/invite?token=a+b&x=1");
  });
});
