// The tamper suite again with every blob inflated in the inflate worker: its blobs are small, so
// `verify` inflates them on the main thread by default (src/verify/pass.ts, INLINE_BYTES); a large
// layer takes the worker, and each damage must be reported the same way there. The CLI processes
// inherit the setting.
process.env.ESGZ_VERIFY_INLINE_BYTES = "0";
await import("./tamper.test.js");
