// placeholder: filled in by the sha256 work
export async function run(): Promise<void> {}
