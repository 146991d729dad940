// placeholder: filled in by the sha256 work
export {};
