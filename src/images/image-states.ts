import {DockerClient} from '../docker/docker-client.js'
import {graphHashes, ownBuild} from './build-images.js'
import {LABELS} from '../labels.js'
import {loadImageGraph} from './image-graph.js'
import {ImageVars} from './image-vars.js'

export type ImageStateName = 'up-to-date' | 'stale' | 'missing'

export interface ImageState {
  name: string
  parent: string | null
  ref: string
  /** up-to-date: the tag names osctl's build of images/ as it is now; stale: of other content (or an image built FROM it). */
  state: ImageStateName
  size: number | null
  contextHash: string
  /** The hash the engine's image was built from, when the image exists. */
  builtHash?: string
  id?: string
}

/** What `image build` would do, without building: compares rendered context hashes with the engine's labels. */
export async function imageStates(docker: DockerClient, imagesDir: string, vars: ImageVars): Promise<ImageState[]> {
  const graph = await loadImageGraph(imagesDir, vars)
  const hashes = await graphHashes(graph)
  return Promise.all(
    graph.order.map(async (name) => {
      const def = graph.images.get(name)!
      const hash = hashes.get(name)!
      const info = await docker.inspectImage(def.ref)
      const builtHash = info?.labels[LABELS.contextHash]
      // An image built FROM osctl's carries its hash too: up to date only when it is osctl's build.
      const state: ImageStateName = !info ? 'missing' : (await ownBuild(docker, info, name, hash)) ? 'up-to-date' : 'stale'
      return {name, parent: def.parent, ref: def.ref, state, size: info?.size ?? null, contextHash: hash, builtHash, id: info?.id}
    }),
  )
}
