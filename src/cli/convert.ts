// placeholder: `esgz-fast convert` is registered here by its work
import type { CAC } from "cac";
export function register(_cli: CAC): void {}
