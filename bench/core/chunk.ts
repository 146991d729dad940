// placeholder: filled in by the chunk work
export async function run(): Promise<void> {}
