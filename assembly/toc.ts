// placeholder: filled in by the toc work
export {};
