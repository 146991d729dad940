// placeholder: filled in by the crc32 work
export {};
