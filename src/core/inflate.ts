// placeholder: filled in by the inflate work
export {};
