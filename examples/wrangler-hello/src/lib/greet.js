export function greet(greeting) {
  return `${greeting}, served by edged.`;
}
