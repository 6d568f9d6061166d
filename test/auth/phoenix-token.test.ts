import { readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { signPhoenixToken, verifyPhoenixToken } from "../../server/auth/phoenix-token.js";
import { ErlangAtom, ErlangTuple, decodeErlangTerm } from "../../server/auth/erlang-term.js";
import { encodeErlangTerm } from "../../server/auth/erlang-term-encode.js";

// phoenix-token-vectors.json was written by Erlang/OTP 25 (Plug.Crypto's signing: term_to_binary,
// crypto:pbkdf2_hmac, crypto:mac), with this one line (erlang-base), redirected to the file:
// erl -noshell -eval 'S= <<"a-secret-key-base-of-at-least-64-bytes-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">>,T=1700000000000,B=fun(X)->[case C of $+->$-;$/->$_;_->C end||<<C>><=base64:encode(X),C=/=$=] end,P=#{sha256=>"SFMyNTY",sha384=>"SFMzODQ",sha512=>"SFM1MTI"},K=fun(Salt)->crypto:pbkdf2_hmac(sha256,S,Salt,1000,32) end,G=fun(Salt,Bin,D)->Pt=[maps:get(D,P),".",B(Bin)],lists:flatten([Pt,".",B(crypto:mac(hmac,D,K(Salt),Pt))]) end,V=[{integer,{42,T,86400},[],sha256},{string,{<<"user-1">>,T,86400},[],sha256},{map,{#{<<"id">>=>7,<<"role">>=>admin,<<"tags">>=>[<<"a">>,<<"b">>]},T,86400},[],sha256},{mixed,{{user,-5,1.5,5000000000,123456789012345678901234567890,"abc",nil,true,<<"h\303\251">>,<<255,0>>,[]},T,86400},[],sha256},{short_max_age,{42,T,60},[],sha256},{infinity,{42,T,infinity},[],sha256},{legacy_pair,{42,T},[],sha256},{legacy_map,#{data=>42,signed=>T},[],sha256},{compressed,{list_to_binary(lists:duplicate(300,$x)),T,86400},[compressed],sha256},{sha384,{42,T,86400},[],sha384},{sha512,{42,T,86400},[],sha512},{pid,{self(),T,86400},[],sha256},{export,{fun erlang:node/0,T,86400},[],sha256},{reference,{make_ref(),T,86400},[],sha256}],L=[io_lib:format("    {\"name\": \"~s\", \"token\": \"~s\"}",[N,G(<<"user socket">>,term_to_binary(Tm,O),D)])||{N,Tm,O,D}<-V],io:format("{~n  \"secretKeyBase\": \"~s\",~n  \"salt\": \"user socket\",~n  \"signedAt\": ~p,~n  \"otp\": \"~s\",~n  \"vectors\": [~n~s~n  ]~n}~n",[S,T,erlang:system_info(otp_release),lists:join(",\n",L)]),halt().'
interface Vectors {
  secretKeyBase: string;
  salt: string;
  signedAt: number;
  vectors: Array<{ name: string; token: string }>;
}
const fixture = JSON.parse(readFileSync(new URL("./phoenix-token-vectors.json", import.meta.url), "utf8")) as Vectors;
const { secretKeyBase, salt, signedAt } = fixture;
const token = (name: string) => {
  const found = fixture.vectors.find((v) => v.name === name);
  if (!found) throw new Error(`no vector ${name}`);
  return found.token;
};
const at = (ms: number) => ({ now: () => ms });
const soon = at(signedAt + 1000);

describe("Phoenix.Token, against tokens signed by Erlang/OTP", () => {
  it("verifies each kind of plain data", () => {
    expect(verifyPhoenixToken(secretKeyBase, salt, token("integer"), soon)).toMatchObject({ ok: true, data: 42, signedAt, expiresAt: signedAt + 86_400_000 });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("string"), soon)).toMatchObject({ ok: true, data: "user-1" });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("map"), soon)).toMatchObject({ ok: true, data: { id: 7, role: "admin", tags: ["a", "b"] } });
    const mixed = verifyPhoenixToken(secretKeyBase, salt, token("mixed"), soon);
    expect(mixed).toMatchObject({
      ok: true,
      data: ["user", -5, 1.5, 5_000_000_000, "123456789012345678901234567890", [97, 98, 99], null, true, "hé", new Uint8Array([255, 0]), []],
    });
    if (!mixed.ok) throw new Error("unreachable");
    expect(mixed.term).toBeInstanceOf(ErlangTuple);
    expect((mixed.term as ErlangTuple).items[0]).toEqual(new ErlangAtom("user"));
    expect((mixed.term as ErlangTuple).items[4]).toBe(123456789012345678901234567890n);
  });

  it("verifies compressed terms and the SHA-384 and SHA-512 variants", () => {
    expect(verifyPhoenixToken(secretKeyBase, salt, token("compressed"), soon)).toMatchObject({ ok: true, data: "x".repeat(300) });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("sha384"), soon)).toMatchObject({ ok: true, data: 42 });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("sha512"), soon)).toMatchObject({ ok: true, data: 42 });
  });

  it("reads the older payloads Plug.Crypto still accepts, with a day's max age", () => {
    for (const name of ["legacy_pair", "legacy_map"]) {
      expect(verifyPhoenixToken(secretKeyBase, salt, token(name), soon)).toMatchObject({ ok: true, data: 42, expiresAt: signedAt + 86_400_000 });
      expect(verifyPhoenixToken(secretKeyBase, salt, token(name), at(signedAt + 86_400_001))).toMatchObject({ ok: false, error: "expired" });
    }
  });

  it("is expired past its max age: the signed one, or the verifier's", () => {
    expect(verifyPhoenixToken(secretKeyBase, salt, token("short_max_age"), at(signedAt + 60_000))).toMatchObject({ ok: true });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("short_max_age"), at(signedAt + 60_001))).toMatchObject({ ok: false, error: "expired" });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("integer"), { ...at(signedAt + 11_000), maxAgeMs: 10_000 })).toMatchObject({ ok: false, error: "expired" });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("short_max_age"), { ...at(signedAt + 120_000), maxAgeMs: 3_600_000 })).toMatchObject({ ok: true });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("integer"), { ...soon, maxAgeMs: 0 })).toMatchObject({ ok: false, error: "expired" });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("infinity"), at(signedAt + 10 * 365 * 86_400_000))).toMatchObject({ ok: true, data: 42, expiresAt: null });
  });

  it("is invalid when signed in the future", () => {
    expect(verifyPhoenixToken(secretKeyBase, salt, token("integer"), at(signedAt - 1))).toMatchObject({ ok: false, error: "invalid", detail: "signed in the future" });
  });

  it("is invalid under another salt or secret, or tampered with", () => {
    expect(verifyPhoenixToken(secretKeyBase, "other salt", token("integer"), soon)).toMatchObject({ ok: false, error: "invalid", detail: "bad signature" });
    expect(verifyPhoenixToken(`${secretKeyBase}x`, salt, token("integer"), soon)).toMatchObject({ ok: false, error: "invalid" });
    const [head, payload, mac] = token("integer").split(".");
    const flipped = payload.slice(0, -2) + (payload.at(-2) === "A" ? "B" : "A") + payload.at(-1);
    expect(verifyPhoenixToken(secretKeyBase, salt, `${head}.${flipped}.${mac}`, soon)).toMatchObject({ ok: false, error: "invalid" });
    expect(verifyPhoenixToken(secretKeyBase, salt, `${head}.${payload}.${mac.slice(0, -1)}`, soon)).toMatchObject({ ok: false, error: "invalid" });
    expect(verifyPhoenixToken(secretKeyBase, salt, `SFM1MTI.${payload}.${mac}`, soon)).toMatchObject({ ok: false, error: "invalid" });
    expect(verifyPhoenixToken(secretKeyBase, salt, `${head}.${payload}`, soon)).toMatchObject({ ok: false, error: "invalid" });
    expect(verifyPhoenixToken(secretKeyBase, salt, `${head}.${payload}+.${mac}`, soon)).toMatchObject({ ok: false, error: "invalid", detail: "not base64url" });
    expect(verifyPhoenixToken(secretKeyBase, salt, undefined, soon)).toMatchObject({ ok: false, error: "missing" });
  });

  it("refuses pids, references and funs even when correctly signed", () => {
    expect(verifyPhoenixToken(secretKeyBase, salt, token("pid"), soon)).toMatchObject({ ok: false, error: "invalid", detail: expect.stringContaining("pid") });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("reference"), soon)).toMatchObject({ ok: false, error: "invalid", detail: expect.stringContaining("reference") });
    expect(verifyPhoenixToken(secretKeyBase, salt, token("export"), soon)).toMatchObject({ ok: false, error: "invalid", detail: expect.stringContaining("export") });
  });

  it("signs the same bytes as Erlang", () => {
    expect(signPhoenixToken(secretKeyBase, salt, 42, { signedAt })).toBe(token("integer"));
    expect(signPhoenixToken(secretKeyBase, salt, "user-1", { signedAt })).toBe(token("string"));
    expect(signPhoenixToken(secretKeyBase, salt, { tags: ["a", "b"], role: new ErlangAtom("admin"), id: 7 }, { signedAt })).toBe(token("map"));
    expect(signPhoenixToken(secretKeyBase, salt, 42, { signedAt, maxAgeMs: 60_000 })).toBe(token("short_max_age"));
    expect(signPhoenixToken(secretKeyBase, salt, 42, { signedAt, digest: "sha512" })).toBe(token("sha512"));
    const mixed = new ErlangTuple([new ErlangAtom("user"), -5, 1.5, 5_000_000_000, 123456789012345678901234567890n, [97, 98, 99], null, true, "hé", new Uint8Array([255, 0]), []]);
    expect(signPhoenixToken(secretKeyBase, salt, mixed, { signedAt })).toBe(token("mixed"));
  });

  it("takes times and durations in milliseconds, and refuses a seconds value rather than misreading it", () => {
    // signedAt is what verify returns: a token signed at verify's signedAt is the same token.
    const verified = verifyPhoenixToken(secretKeyBase, salt, token("integer"), soon);
    expect(verified.ok && signPhoenixToken(secretKeyBase, salt, 42, { signedAt: verified.signedAt })).toBe(token("integer"));
    expect(() => signPhoenixToken(secretKeyBase, salt, 42, { signedAt: signedAt / 1000 })).toThrow("signedAt is ms since the epoch (as Date.now()); 1700000000 looks like seconds: multiply it by 1000");
    const old = { maxAge: 60 } as never;
    expect(() => signPhoenixToken(secretKeyBase, salt, 42, old)).toThrow("maxAge (seconds) is now maxAgeMs, in milliseconds");
    expect(() => verifyPhoenixToken(secretKeyBase, salt, token("integer"), old)).toThrow("maxAge (seconds) is now maxAgeMs, in milliseconds");
  });

  it("round-trips what it signs", () => {
    const now = Date.now();
    const signed = signPhoenixToken(secretKeyBase, "another salt", { user: "ada" }, { now: () => now, maxAgeMs: 5000 });
    expect(verifyPhoenixToken(secretKeyBase, "another salt", signed, at(now))).toMatchObject({ ok: true, data: { user: "ada" }, expiresAt: now + 5000 });
  });
});

describe("Erlang term decoder", () => {
  const withTag = (...bytes: number[]) => new Uint8Array([131, ...bytes]);

  it("refuses lies about sizes, deep nesting and trailing bytes", () => {
    expect(() => decodeErlangTerm(withTag(108, 0xff, 0xff, 0xff, 0xff, 97, 1))).toThrow(/truncated/);
    expect(() => decodeErlangTerm(withTag(109, 0, 0, 0, 9, 1))).toThrow(/truncated/);
    const deep = new Uint8Array([131, ...Array.from({ length: 100 }, () => [104, 1]).flat(), 106]);
    expect(() => decodeErlangTerm(deep)).toThrow(/deeper/);
    expect(() => decodeErlangTerm(withTag(97, 1, 97))).toThrow(/left after/);
    expect(() => decodeErlangTerm(new Uint8Array([130, 97, 1]))).toThrow(/131/);
    expect(() => decodeErlangTerm(withTag(108, 0, 0, 0, 1, 97, 1, 97, 2))).toThrow(/improper/);
  });

  it("refuses a compressed term that inflates past its stated size (or the limit)", () => {
    const big = encodeErlangTerm("x".repeat(200_000));
    expect(() => decodeErlangTerm(big)).toThrow(/limit/);
    const inner = encodeErlangTerm("x".repeat(1000)).subarray(1);
    const lying = Buffer.concat([Buffer.from([131, 80, 0, 0, 0, 10]), deflateSync(inner)]);
    expect(() => decodeErlangTerm(lying)).toThrow(/stated size/);
  });

  it("reads every atom encoding and maps with any keys", () => {
    expect(decodeErlangTerm(withTag(115, 2, 111, 107))).toEqual(new ErlangAtom("ok"));
    expect(decodeErlangTerm(withTag(118, 0, 2, 0xc3, 0xa9))).toEqual(new ErlangAtom("é"));
    expect(decodeErlangTerm(withTag(119, 4, 116, 114, 117, 101))).toBe(true);
    expect(decodeErlangTerm(withTag(100, 0, 3, 110, 105, 108))).toBeNull();
  });
});
