// train.ts's main on a machine without a WebGPU adapter: the test of that path runs this file as
// a child process (the adapter request is replaced before the CLI asks for a device).
import { setAdapterRequest } from "../src/engine/gpu_device.ts";
import { main } from "../src/cli/train_cli.ts";

setAdapterRequest(() => Promise.resolve(null));
Deno.exit(await main(Deno.args));
