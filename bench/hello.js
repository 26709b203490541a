// The hello-world worker bench/hello.sh serves, with edged and (with --workerd) with workerd.
export default {
  async fetch(request, env, ctx) {
    return new Response("Hello World\n");
  },
};
