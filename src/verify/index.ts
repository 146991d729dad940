// `esgz-fast verify` as a library: resolve an input to layer targets, verify each, report.
export { CHECKS, CHECK_TITLES, layerFailed } from "./checks.js";
export type { CheckName, CheckResult, CheckStatus, LayerKind, LayerReport } from "./checks.js";
export { verifyLayer, type LayerOptions } from "./layer.js";
export { formatJson, formatTable } from "./report.js";
export { resolveInput, type InputOptions } from "./inputs/resolve.js";
export { TrustError, UsageError, type LayerExpectations, type LayerTarget } from "./target.js";
