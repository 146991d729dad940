// placeholder: filled in by the chunk work
export {};
