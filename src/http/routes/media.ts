import { createReadStream } from 'node:fs'
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { AppError } from '../../errors.js'
import type { MediaLinks } from '../../inbound/media-links.js'
import type { InboundMediaStore } from '../../inbound/media-store.js'
import { ok } from '../envelope.js'
import { IdParams } from '../schemas.js'

/**
 * `GET /media/:id?exp=…&sig=…`: inbound media behind a signed, expiring link (the link is the credential, so the
 * route takes no other auth). A file not downloaded yet is downloaded first. `&include=base64` answers
 * `{data: {base64, mimetype, size, filename}}` for files up to MEDIA_INLINE_MAX_BYTES.
 */
const SAFE_MIMETYPE = /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+-]+)*$/

export const mediaRoutes =
  ({ media, links, inlineMaxBytes }: { media: InboundMediaStore; links: MediaLinks; inlineMaxBytes: number }): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/media/:id',
      {
        schema: {
          tags: ['media'],
          summary: 'Download inbound media through a signed link',
          params: IdParams,
          querystring: Type.Object({
            exp: Type.Optional(Type.String()),
            sig: Type.Optional(Type.String()),
            // `include=base64` is the contract's spelling; `format=base64` the earlier one, still accepted.
            include: Type.Optional(Type.Literal('base64')),
            format: Type.Optional(Type.Literal('base64')),
          }),
        },
      },
      async (request, reply) => {
        const { id } = request.params
        if (!links.verify(id, request.query.exp, request.query.sig)) throw new AppError('MEDIA_LINK_INVALID')
        if (!media.get(id)) throw new AppError('NOT_FOUND', 'The media is gone (retention) or never existed')
        let row
        try {
          row = await media.ensure(id)
        } catch {
          throw new AppError('MEDIA_UNAVAILABLE')
        }
        void reply.header('cache-control', 'private, max-age=300')
        if (request.query.include === 'base64' || request.query.format === 'base64') {
          if (row.size > inlineMaxBytes) throw new AppError('MEDIA_TOO_LARGE', `Inline base64 is limited to ${inlineMaxBytes} bytes`)
          const { readFile } = await import('node:fs/promises')
          return ok({ base64: (await readFile(row.path)).toString('base64'), mimetype: row.mimetype, size: row.size, filename: row.filename })
        }
        // The type and the name come from whoever sent the message: never rendered on this origin (which serves the
        // pairing page), and a type that is no plain `type/subtype[; k=v]` is not sent as a header at all.
        void reply
          .type(SAFE_MIMETYPE.test(row.mimetype) ? row.mimetype : 'application/octet-stream')
          .header('content-length', String(row.size))
          .header('x-content-type-options', 'nosniff')
          .header('content-security-policy', "default-src 'none'; sandbox")
          .header('content-disposition', row.filename ? `attachment; filename*=UTF-8''${encodeURIComponent(row.filename)}` : 'attachment')
        return reply.send(createReadStream(row.path))
      },
    )
  }
