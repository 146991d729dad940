// The tamper suite again with every blob inflated on the main thread (ESGZ_VERIFY_INLINE_BYTES, for
// busy machines: src/verify/pass.ts, INLINE_BYTES); by default the inflate worker does it, and each
// damage must be reported the same way both ways. The CLI processes inherit the setting.
process.env.ESGZ_VERIFY_INLINE_BYTES = String(1 << 30);
await import("./tamper.test.js");
