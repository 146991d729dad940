// placeholder: filled in by the toc work
export async function run(): Promise<void> {}
