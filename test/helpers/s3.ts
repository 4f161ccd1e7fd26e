/**
 * A local S3 server (s3rver) for the backup tests, listening on 127.0.0.1 on an ephemeral port,
 * with one bucket, and with its delimiter listings fixed to behave like S3.
 *
 * s3rver 3.7's filesystem store (lib/stores/filesystem.js `listObjects`) prunes every directory
 * more than one level below the prefix while walking, before it has seen an object under it, so
 * a prefix whose objects are two or more levels deeper is never returned as a common prefix:
 * with `a/b/c/meta.json` stored, `prefix=a/ delimiter=/` lists nothing instead of `a/b/`. S3
 * (and MinIO) return `a/b/`. rclone walks directories with delimiter listings, so `rclone copy`
 * of such a tree finds nothing. Delimiter listings are answered here from the store's complete
 * listing of the prefix, grouped like S3 (single-page listings: enough for these tests).
 */
// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import S3rver from "s3rver";

interface ListOptions {
  delimiter?: string;
  prefix?: string;
  startAfter?: string;
  maxKeys?: number;
}

interface ListResult {
  objects: Array<{ key: string }>;
  commonPrefixes: string[];
  isTruncated: boolean;
}

interface Store {
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
}

/** A running S3 server. */
export interface TestS3 {
  endpoint: string;
  close(): Promise<void>;
}

/** Starts s3rver with its data in `dir` and the bucket `bucket`. */
export async function startS3(dir: string, bucket = "backups"): Promise<TestS3> {
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: dir, configureBuckets: [{ name: bucket }] }) as {
    store: Store;
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  };
  const store = server.store;
  const list = store.listObjects.bind(store);
  store.listObjects = async (b, options) => {
    const { delimiter, maxKeys, ...rest } = options;
    if (!delimiter) return await list(b, options);
    const prefix = rest.prefix ?? "";
    const all = await list(b, { ...rest, delimiter: "" });
    const objects: ListResult["objects"] = [];
    const prefixes = new Set<string>();
    for (const o of all.objects) {
      const idx = o.key.slice(prefix.length).indexOf(delimiter);
      if (idx === -1) objects.push(o);
      else prefixes.add(o.key.slice(0, prefix.length + idx + delimiter.length));
    }
    const max = maxKeys ?? Infinity;
    return { objects: objects.slice(0, max), commonPrefixes: [...prefixes].sort(), isTruncated: all.isTruncated || objects.length > max };
  };
  const addr = await server.run();
  return { endpoint: `http://127.0.0.1:${addr.port}`, close: async () => server.close() };
}
