// What an agent might send to the demo's POST /run: an ES module whose default export has
// run(api). It runs in a child isolate with no network; `api` is all it can reach.
export default {
  async run(api) {
    const primes = [];
    for (let n = 2; primes.length < 10; n++)
      if (primes.every((p) => n % p !== 0)) primes.push(n);
    await api.put("primes", primes);
    await api.log("found", primes.length, "primes");
    let blocked = "";
    try {
      await fetch("http://example.com/");
    } catch (e) {
      blocked = e.message;
    }
    return { primes: await api.get("primes"), keys: await api.list(), fetch: blocked };
  },
};
