// placeholder: filled in by the inflate work
export async function run(): Promise<void> {}
