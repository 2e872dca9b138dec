import type { supervisorV1 } from '@drydock/proto';
import { InvalidArgumentError, UnavailableError } from '@drydock/errors';
import type { ArchiveManager, PathStatInfo } from '../archives/archive-manager';
import { incoming, type Handlers } from './handlers';

const statMessage = (s: PathStatInfo): supervisorV1.PathStat => ({ name: s.name, size: String(s.size), mode: s.mode, mtime: s.mtime, linkTarget: s.linkTarget });

/** Thin gRPC adapter over ArchiveManager (drydock.supervisor.v1.Archives). */
export function archivesService(archives: ArchiveManager, h: Handlers): supervisorV1.ArchivesServer {
  return {
    statPath: h.unary('StatPath', async (req: supervisorV1.StatPathRequest) => ({ stat: statMessage(await archives.statPath(req.id ?? '', req.path ?? '')) })),
    getArchive: h.serverStream('GetArchive', (req: supervisorV1.GetArchiveRequest, signal) => getArchive(archives, req, signal)),
    putArchive: h.clientStream('PutArchive', async (_messages: AsyncIterable<supervisorV1.PutArchiveRequest>, call) => {
      const it = incoming<supervisorV1.PutArchiveRequest>(call)[Symbol.asyncIterator]();
      const first = await it.next();
      const header = first.done ? undefined : first.value.header;
      if (!header) throw new InvalidArgumentError('the first PutArchive message must carry header');
      async function* chunks(): AsyncIterable<Buffer> {
        for (;;) {
          const n = await it.next();
          if (n.done) {
            // grpc-js ends the message stream on cancellation too: a cut-off upload is an error, not a short tar
            if (call.cancelled) throw new UnavailableError('upload cancelled by the client');
            return;
          }
          if (n.value.chunk && n.value.chunk.length > 0) yield Buffer.from(n.value.chunk);
        }
      }
      await archives.putArchive(header.id ?? '', header.path ?? '', chunks(), { noOverwriteDirNonDir: !!header.noOverwriteDirNonDir, copyUidGid: !!header.copyUidGid });
      return {};
    }),
    exportContainer: h.serverStream('ExportContainer', (req: supervisorV1.ExportContainerRequest, signal) => exportStream(archives, req, signal)),
    containerChanges: h.unary('ContainerChanges', async (req: supervisorV1.ContainerChangesRequest) => ({
      changes: (await archives.changes(req.id ?? '')).map((c) => ({ path: c.path, kind: c.kind })),
    })),
  };
}

async function* getArchive(archives: ArchiveManager, req: supervisorV1.GetArchiveRequest, signal: AbortSignal): AsyncIterable<supervisorV1.GetArchiveResponse> {
  for await (const item of archives.getArchive(req.id ?? '', req.path ?? '', signal)) {
    yield 'stat' in item ? { stat: statMessage(item.stat) } : { chunk: item.chunk };
  }
}

async function* exportStream(archives: ArchiveManager, req: supervisorV1.ExportContainerRequest, signal: AbortSignal): AsyncIterable<supervisorV1.ArchiveChunk> {
  for await (const data of archives.exportContainer(req.id ?? '', signal)) yield { data };
}
