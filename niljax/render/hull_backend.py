"""Pure-JAX render backend "hull": exact primitives plus meshes as unions of convex polytopes (runs on CPU/GPU/TPU).

Contract: `HullRenderer(...).render(geom_xpos f32[N,ngeom,3], geom_xmat f32[N,ngeom,3,3], cam_xpos f32[N,3],
cam_xmat f32[N,3,3]) -> (rgb f32[N,H,W,3] in [0,1], mask bool[N,H,W], geom_id int32[N,H,W] (-1 = nothing))` —
the same contract as `JaxRaycaster`, jittable and vmap/shard friendly (no data-dependent shapes or branches).
Static (read once from the MjModel, a change means a new renderer and a recompile): H, W, fovy, the drawn
geoms, their sizes and colours, the mesh decomposition (`tol`, `max_pieces`, `planes`, `split`), the tile budget
(`tile_pieces`, and `crowded_tiles` x `crowded_pieces` for the busiest tiles' second pass), `chunk`.
Traced: the poses only. Decompositions are cached in memory and on disk by mesh content and settings
(`$NILJAX_HULL_CACHE`, default ~/.cache/niljax/hull; set it empty to disable), since they take seconds to minutes.

What it draws: the geoms the "jax" backend draws (groups 0-2, visible, visual/collision twins once; planes painted
only with `draw_planes`, but always hiding what lies behind them, as in OpenGL), primitives exactly with the same intersection code, and each mesh as the union of up to
`max_pieces` convex pieces of `planes` half-spaces each (`niljax.render.hull_decomp`, built on the host when the
renderer is built; a piece is split until it sticks out of the mesh by at most `tol` metres or the piece budget is
spent). A ray meets a piece where it is inside every half-space: t_enter = max over planes facing the ray, t_exit
= min over planes facing away, hit when t_enter <= t_exit and t_enter > 0. The plane tests are one matmul
(rays [B,3] x world plane normals [3,P*K]) plus elementwise work and reductions: dense and branch-free.
Shading: base colour (material rgba, else geom rgba) x (ambient + Lambert from a head light at the camera), the
normal being that of the plane (or primitive surface) hit.

Cost per frame (Kt pieces traced per tile, K planes each, G primitives, H*W pixels): ~10*H*W*Kt*K flops for the
plane tests (3 mul + 2 add for the ray-normal dot, 1 div, 2 selects, 2 min/max), Kt = tile_pieces + crowded_tiles *
crowded_pieces on average, + ~40*H*W*G for primitives; memory live at once ~3*4*tile_batch*tile^2*tile_pieces*K
bytes per env of a chunk (tiles in batches of `tile_batch`, the crowded pass in batches of the same size in pieces,
envs in chunks of `chunk`). `flops_per_frame()` gives the figures.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from niljax.render.hull_decomp import mesh_polytopes
from niljax.render.jax_backend import (
    _HIT,
    _MESH,
    _SPHERE,
    _local_normal,
    drawn_geoms,
    geom_colors,
    painted_geoms,
)

log = logging.getLogger(__name__)

_BIG = 1e30
_PIECE_CACHE: dict[str, tuple[list, float]] = {}


_CACHE_VERSION = 3  # bump when hull_decomp changes what it produces (3: the error estimate sees 64 views)


def _disk_cache_dir() -> Path | None:
    """Where decompositions persist across processes: $NILJAX_HULL_CACHE (empty string: off), else
    $XDG_CACHE_HOME/niljax/hull or ~/.cache/niljax/hull."""
    env = os.environ.get("NILJAX_HULL_CACHE")
    if env is not None:
        return Path(env) if env else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "niljax" / "hull"


def _mesh_pieces(
    m: mujoco.MjModel, mesh_id: int, tol: float, max_pieces: int, planes: int, split: str,
) -> tuple[list, float]:
    va, vn = int(m.mesh_vertadr[mesh_id]), int(m.mesh_vertnum[mesh_id])
    fa, fn = int(m.mesh_faceadr[mesh_id]), int(m.mesh_facenum[mesh_id])
    verts = np.asarray(m.mesh_vert[va : va + vn], np.float64)
    faces = np.asarray(m.mesh_face[fa : fa + fn], np.int64)
    # keyed by content: the same mesh in several models, renderers or processes is decomposed once
    h = hashlib.sha256(verts.tobytes() + faces.tobytes() + repr((tol, max_pieces, planes, _CACHE_VERSION)).encode()
                       + (b"" if split == "median" else split.encode()))  # median keys predate `split`
    key = h.hexdigest()[:32]
    hit = _PIECE_CACHE.get(key)
    if hit is not None:
        return hit
    folder = _disk_cache_dir()
    path = folder / f"{key}.npz" if folder else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                hit = ([(n, o) for n, o in zip(z["normals"], z["offsets"])], float(z["error"]))
        except (OSError, ValueError, KeyError):  # a damaged cache file: decompose again
            hit = None
    if hit is None:
        hit = mesh_polytopes(verts, faces, tol=tol, max_pieces=max_pieces, planes=planes, split=split)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(tmp, normals=np.stack([p[0] for p in hit[0]]), offsets=np.stack([p[1] for p in hit[0]]),
                         error=hit[1])
                tmp.replace(path)
            except OSError as e:  # read-only home etc.: keep working without the disk cache
                log.debug("hull decomposition cache not written (%s)", e)
    _PIECE_CACHE[key] = hit
    return hit


def _tile_frusta(height: int, width: int, fovy: float, tile: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera-frame ray directions per tile f32[T, tile*tile, 3], each tile's 5 inward frustum planes f32[T,5,3]
    (through the camera centre: left, right, top, bottom, in front) and the pixel index of every tile slot
    int32[T*tile*tile] (-1 for slots past the image edge)."""
    th, tw = -(-height // tile), -(-width // tile)
    half_h = np.tan(np.radians(fovy) / 2.0)
    half_w = half_h * width / height
    xe = -half_w + 2 * half_w * np.arange(tw * tile + 1) / width  # pixel edges (beyond the image for padding)
    ye = half_h - 2 * half_h * np.arange(th * tile + 1) / height
    xc = (xe[:-1] + xe[1:]) / 2
    yc = (ye[:-1] + ye[1:]) / 2
    rays, planes, index = [], [], []
    for i in range(th):
        for j in range(tw):
            r0, c0 = i * tile, j * tile
            yy, xx = np.meshgrid(yc[r0 : r0 + tile], xc[c0 : c0 + tile], indexing="ij")
            rays.append(np.stack([xx, yy, -np.ones_like(xx)], -1).reshape(-1, 3))
            xl, xr, yt, yb = xe[c0], xe[c0 + tile], ye[r0], ye[r0 + tile]
            planes.append([[1, 0, xl], [-1, 0, -xr], [0, -1, -yt], [0, 1, yb], [0, 0, -1]])
            rr, cc = np.meshgrid(np.arange(r0, r0 + tile), np.arange(c0, c0 + tile), indexing="ij")
            inside = (rr < height) & (cc < width)
            index.append(np.where(inside, rr * width + cc, -1).reshape(-1))
    pl = np.array(planes, np.float64)
    pl /= np.linalg.norm(pl, axis=-1, keepdims=True)
    return np.array(rays, np.float32), pl.astype(np.float32), np.concatenate(index).astype(np.int32)


class HullRenderer:
    """Ray caster for one MjModel, camera intrinsics and resolution; meshes drawn as convex pieces (see module)."""

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        robot_geom_mask: np.ndarray,
        *,
        height: int,
        width: int,
        fovy: float,
        draw_planes: bool,
        tol: float = 0.002,
        max_pieces: int = 512,
        planes: int = 24,
        tile: int | None = None,
        tile_pieces: int = 128,
        crowded_tiles: float = 0.0625,
        crowded_pieces: int = 384,
        split: str = "search",
        ambient: float = 0.35,
        chunk: int = 8,
        tile_batch: int = 64,
    ) -> None:
        if tile is None:  # ~28 tiles across: a tile spans the same part of the scene at every resolution
            tile = int(np.clip(round(min(height, width) / 28), 2, 8))
        if tol <= 0 or max_pieces < 1 or planes < 7 or tile < 1 or tile_pieces < 1:
            raise ValueError("hull renderer needs tol > 0, max_pieces >= 1, planes >= 7, tile >= 1, tile_pieces >= 1;"
                             f" got {tol}, {max_pieces}, {planes}, {tile}, {tile_pieces}")
        if not 0.0 <= crowded_tiles <= 1.0 or crowded_pieces < 0:
            raise ValueError("hull renderer needs 0 <= crowded_tiles <= 1 and crowded_pieces >= 0; "
                             f"got {crowded_tiles}, {crowded_pieces}")
        m = mj_model
        geoms = drawn_geoms(m, draw_planes=True)  # planes traced always, painted only with draw_planes
        painted = painted_geoms(m, draw_planes)
        if not any(painted[g] for g in geoms):
            raise ValueError("the model has no geom the hull renderer can draw")
        self.painted = jnp.asarray(painted)
        rgba = geom_colors(m)
        self.height, self.width, self.ambient, self.chunk = height, width, ambient, chunk
        sizes = np.array(m.geom_size, np.float32)
        groups: dict[int, list[int]] = {}
        piece_geom, piece_n, piece_h = [], [], []
        self.mesh_error: dict[str, float] = {}  # geom name (or id) -> estimated worst outside distance (m)
        for g in geoms:
            t = int(m.geom_type[g])
            if t == _MESH:
                pieces, err = _mesh_pieces(m, int(m.geom_dataid[g]), tol, max_pieces, planes, split)
                self.mesh_error[m.geom(g).name or f"geom{g}"] = err
                for n, h in pieces:
                    piece_geom.append(g)
                    piece_n.append(n)
                    piece_h.append(h)
                continue
            if t == _SPHERE:
                sizes[g] = m.geom_size[g, 0]  # drawn as an ellipsoid with three equal radii
            groups.setdefault(t, []).append(g)
        self.groups = {k: np.array(v, np.int32) for k, v in groups.items()}
        self.prim_order = np.concatenate(list(self.groups.values())) if groups else np.zeros(0, np.int32)
        self.piece_geom = np.array(piece_geom, np.int32)
        self.num_pieces, self.num_planes = len(piece_geom), planes
        pn = np.stack(piece_n) if piece_n else np.zeros((0, planes, 3), np.float32)
        ph = np.stack(piece_h) if piece_h else np.zeros((0, planes), np.float32)
        # Oriented bounding box of each piece: every piece includes its 6 box planes (rows 0-5: +axes then -axes,
        # see hull_decomp.piece_planes), so that box bounds it; culling tests boxes against tile frusta.
        centre = np.einsum("pij,pi->pj", pn[:, :3], (ph[:, :3] - ph[:, 3:6]) / 2)
        half = np.maximum((ph[:, :3] + ph[:, 3:6]) / 2, 0.0) + 1e-4
        self.piece_n, self.piece_h = jnp.asarray(pn, jnp.float32), jnp.asarray(ph, jnp.float32)
        self.piece_c, self.piece_half = jnp.asarray(centre, jnp.float32), jnp.asarray(half, jnp.float32)
        self.order = np.concatenate([self.prim_order, self.piece_geom]).astype(np.int32)  # slot -> geom id
        self.kinds = jnp.asarray(np.array(m.geom_type, np.int32))
        self.sizes = jnp.asarray(sizes)
        self.colors = jnp.asarray(rgba[:, :3])
        self.robot = jnp.asarray(np.asarray(robot_geom_mask, bool))
        self.tile = tile
        self.tile_pieces = min(tile_pieces, self.num_pieces)
        rays, frusta, index = _tile_frusta(height, width, fovy, tile)
        self.tile_rays, self.tile_planes = jnp.asarray(rays), jnp.asarray(frusta)
        self.num_tiles = len(rays)
        self.tile_batch = min(tile_batch, self.num_tiles)
        # The most crowded tiles (a static count) trace the next `crowded_pieces` nearest pieces in a second pass,
        # so the budget grows only where pieces crowd (a robot's torso behind its arm) instead of everywhere.
        self.crowded_pieces = min(crowded_pieces, self.num_pieces - self.tile_pieces)
        self.crowded_tiles = int(np.ceil(crowded_tiles * self.num_tiles)) if self.crowded_pieces > 0 else 0
        # same live memory per batch as the first pass: fewer tiles, more pieces each
        self.crowded_batch = max(1, min(self.crowded_tiles, self.tile_batch * self.tile_pieces
                                        // max(self.crowded_pieces, 1)))
        # pixel (row-major) -> slot in the tiled layout, to put the image back together with one gather
        inverse = np.zeros(height * width, np.int32)
        valid = index >= 0
        inverse[index[valid]] = np.nonzero(valid)[0]
        self.unscatter = jnp.asarray(inverse)
        log.debug("hull renderer: %d primitives, %d mesh pieces x %d planes, %d tiles of %dx%d, <= %d pieces/tile",
                  len(self.prim_order), self.num_pieces, planes, self.num_tiles, tile, tile, self.tile_pieces)

    # ------------------------------------------------------------------------------------------ per frame
    def _cull(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
              cam_xmat: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Per tile the (up to) `tile_pieces` + `crowded_pieces` nearest pieces whose bounding box meets the tile's
        frustum, nearest first: piece index int32[T,K+Kc], valid bool[T,K+Kc], and the number of pieces meeting
        each tile int32[T]."""
        g = jnp.asarray(self.piece_geom)
        R = geom_xmat[g]
        cw = geom_xpos[g] + jnp.einsum("pij,pj->pi", R, self.piece_c)
        cc = (cw - cam_xpos) @ cam_xmat  # box centres in the camera frame [P,3]
        axes = jnp.einsum("ji,pjk,pak->pai", cam_xmat, R, self.piece_n[:, :3])  # box axes, camera frame [P,3,3]
        dist = jnp.einsum("tfj,pj->tpf", self.tile_planes, cc)  # signed distance of the centre to each plane
        reach = jnp.einsum("tpfa,pa->tpf", jnp.abs(jnp.einsum("tfj,paj->tpfa", self.tile_planes, axes)),
                           self.piece_half)  # the box's support along each plane normal
        meets = jnp.all(dist >= -reach, -1)  # [T,P]
        near = -cc[:, 2] - jnp.einsum("pa,pa->p", jnp.abs(axes[:, :, 2]), self.piece_half)  # nearest box depth
        score = jnp.where(meets, -near[None, :], -jnp.inf)
        vals, idx = jax.lax.top_k(score, self.tile_pieces + self.crowded_pieces)
        return idx, jnp.isfinite(vals), meets.sum(-1)

    def _trace_tile(self, d: jnp.ndarray, idx: jnp.ndarray, valid: jnp.ndarray, o: jnp.ndarray,
                    geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, nw: jnp.ndarray,
                    num: jnp.ndarray, primitives: bool = True) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Nearest hit of one tile's rays d [B,3] from o among the primitives (unless `primitives` is False) and
        pieces idx [K] (valid [K]): (t [B], slot [B] (index into self.order), world normal [B,3])."""
        ts = []
        for kind, gi in (self.groups.items() if primitives else ()):
            R = geom_xmat[gi]
            o_l = jnp.einsum("gkj,gk->gj", R, o[None] - geom_xpos[gi])  # R^T (o - p)
            d_l = jnp.einsum("gkj,bk->gbj", R, d)
            ts.append(_HIT[kind](o_l[:, None, :], d_l, self.sizes[gi][:, None, :]))  # [G,B]
        nprim = len(self.prim_order)
        slots = [jnp.arange(nprim)] if nprim and primitives else []
        if self.num_pieces:
            ntile, numt = nw[idx], num[idx]  # [K,Kp,3], [K,Kp]
            den = jnp.einsum("bj,kqj->bkq", d, ntile)  # ray direction . plane normal
            # parallel rays: den -> -eps, so a ray outside that slab gets t_enter = +huge (miss), inside -huge
            den = jnp.where(jnp.abs(den) < 1e-12, -1e-12, den)
            tk = numt[None] / den
            t_in = jnp.max(jnp.where(den < 0, tk, -_BIG), -1)
            t_out = jnp.min(jnp.where(den > 0, tk, _BIG), -1)
            hit = (t_in <= t_out) & (t_in > 0) & valid[None]
            ts.append(jnp.where(hit, t_in, jnp.inf).T)  # [K,B]
            slots.append(nprim + idx)
        t_all = jnp.concatenate(ts, 0)
        k = jnp.argmin(t_all, 0)
        tmin = jnp.min(t_all, 0)
        slot = jnp.concatenate(slots)[k]
        if not primitives:
            nprim = 0  # from here on: rows of t_all before the pieces' rows
        # shading normal: the primitive's surface normal, or the entering plane of the winning piece
        n = jnp.zeros_like(d)
        if nprim:
            g = jnp.asarray(self.prim_order)[jnp.minimum(slot, nprim - 1)]
            R = geom_xmat[g]
            tt = jnp.where(jnp.isfinite(tmin), tmin, 0.0)[:, None]
            p_l = jnp.einsum("bkj,bk->bj", R, o + tt * d - geom_xpos[g])
            n = jnp.einsum("bjk,bk->bj", R, _local_normal(self.kinds[g], p_l, self.sizes[g]))
        if self.num_pieces:
            kk = jnp.clip(k - nprim, 0, idx.shape[0] - 1)
            enter = jnp.where(den < 0, tk, -_BIG)[jnp.arange(d.shape[0]), kk]  # [B,Kp]
            n_mesh = ntile[kk, jnp.argmax(enter, -1)]
            n = jnp.where((slot >= nprim)[:, None], n_mesh, n)
        return tmin, slot, n

    def _render_one(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
                    cam_xmat: jnp.ndarray, fov_scale: jnp.ndarray | None = None
                    ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        cull_mat = ray_mat = cam_xmat
        if fov_scale is not None:
            # a field of view s times wider: camera-frame rays (x, y, -1) -> (s x, s y, -1). The tile frusta stay
            # those of the base rays, so points are culled in the frame where the rays are the base ones (x / s).
            one = jnp.ones_like(fov_scale)
            ray_mat = cam_xmat * jnp.stack([fov_scale, fov_scale, one])[None, :]
            cull_mat = cam_xmat * jnp.stack([1.0 / fov_scale, 1.0 / fov_scale, one])[None, :]
        d = self.tile_rays @ ray_mat.T  # world ray directions [T,B,3]
        d = d / jnp.linalg.norm(d, axis=-1, keepdims=True)
        if self.num_pieces:
            g = jnp.asarray(self.piece_geom)
            nw = jnp.einsum("pij,pkj->pki", geom_xmat[g], self.piece_n)  # world plane normals [P,K,3]
            hw_off = self.piece_h + jnp.einsum("pki,pi->pk", nw, geom_xpos[g])  # world offsets [P,K]
            num = hw_off - nw @ cam_xpos  # [P,K]: >= 0 where the camera is inside that half-space
            idx, valid, _ = self._cull(geom_xpos, geom_xmat, cam_xpos, cull_mat)
        else:
            nw = num = jnp.zeros((0,))
            idx = valid = jnp.zeros((self.num_tiles, 0))

        def tile(args: tuple[jnp.ndarray, ...]) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
            dt, it, vt = args
            return self._trace_tile(dt, it, vt, cam_xpos, geom_xpos, geom_xmat, nw, num)

        k = self.tile_pieces
        tmin, slot, n = jax.lax.map(tile, (d, idx[:, :k], valid[:, :k]), batch_size=self.tile_batch)
        if self.crowded_tiles:
            tmin, slot, n = self._crowded_pass(d, idx, valid, tmin, slot, n, cam_xpos, geom_xpos, geom_xmat, nw, num)
        pix = self.unscatter
        tmin, slot, n, d = tmin.reshape(-1)[pix], slot.reshape(-1)[pix], n.reshape(-1, 3)[pix], d.reshape(-1, 3)[pix]
        nearest = jnp.asarray(self.order)[slot]
        hit = jnp.isfinite(tmin) & self.painted[nearest]
        gid = jnp.where(hit, nearest, -1)
        gsafe = jnp.maximum(gid, 0)
        mask = hit & self.robot[gsafe]
        n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
        lambert = jnp.abs(jnp.sum(n * d, -1))
        shade = self.ambient + (1.0 - self.ambient) * lambert
        rgb = jnp.clip(self.colors[gsafe] * shade[:, None], 0.0, 1.0)
        h, w = self.height, self.width
        return rgb.reshape(h, w, 3), mask.reshape(h, w), gid.reshape(h, w)

    def _crowded_pass(self, d: jnp.ndarray, idx: jnp.ndarray, valid: jnp.ndarray, tmin: jnp.ndarray,
                      slot: jnp.ndarray, n: jnp.ndarray, *scene: jnp.ndarray
                      ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Second pass over the `crowded_tiles` tiles that the most pieces meet: trace their next `crowded_pieces`
        pieces (beyond the first `tile_pieces`) and keep the nearer hit. Static shapes: the tiles are picked with
        `top_k` on the per-tile count of valid pieces; the results come back to their tiles with one gather."""
        k, m = self.tile_pieces, self.crowded_tiles
        extra_valid = valid[:, k:]
        _, sel = jax.lax.top_k(extra_valid.sum(-1), m)  # [M] tiles with the most pieces past the first pass

        def tile(args: tuple[jnp.ndarray, ...]) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
            dt, it, vt = args
            return self._trace_tile(dt, it, vt, *scene, primitives=False)

        t2, s2, n2 = jax.lax.map(tile, (d[sel], idx[sel, k:], extra_valid[sel]), batch_size=self.crowded_batch)
        # tile -> its row in the second pass (m: none); the appended row m never hits
        row = jnp.full((self.num_tiles,), m, jnp.int32).at[sel].set(jnp.arange(m, dtype=jnp.int32))
        t2 = jnp.concatenate([t2, jnp.full_like(t2[:1], jnp.inf)])[row]
        s2 = jnp.concatenate([s2, s2[:1]])[row]
        n2 = jnp.concatenate([n2, n2[:1]])[row]
        nearer = t2 < tmin
        return (jnp.where(nearer, t2, tmin), jnp.where(nearer, s2, slot), jnp.where(nearer[..., None], n2, n))

    def render(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
               cam_xmat: jnp.ndarray, fov_scale: jnp.ndarray | None = None
               ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Batched render: float rgb f32[N,H,W,3] in [0,1] (unhit pixels undefined), mask bool[N,H,W], geom id.
        fov_scale f32[N] or None: per-env tan(fovy_env / 2) / tan(fovy / 2) (a per-env field of view)."""

        def one(args: tuple[jnp.ndarray, ...]) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
            return self._render_one(*args)

        n = geom_xpos.shape[0]
        f32 = jnp.float32
        args = (geom_xpos.astype(f32), geom_xmat.astype(f32), cam_xpos.astype(f32), cam_xmat.astype(f32))
        if fov_scale is not None:
            args = args + (jnp.asarray(fov_scale, f32),)
        return jax.lax.map(one, args, batch_size=min(self.chunk, n))

    def _pieces_per_tile(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
                         cam_xmat: jnp.ndarray) -> jnp.ndarray:
        """int32[N, T]: per frame, how many pieces' bounding boxes meet each tile (zeros without pieces)."""
        if not self.num_pieces:
            return jnp.zeros((geom_xpos.shape[0], self.num_tiles), jnp.int32)
        return jax.vmap(lambda *a: self._cull(*a)[2])(geom_xpos, geom_xmat, cam_xpos, cam_xmat)

    def tile_load(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
                  cam_xmat: jnp.ndarray) -> jnp.ndarray:
        """int32[N]: the most pieces whose bounding boxes meet one tile, per frame. Above `tile_pieces` the
        farthest are dropped for that tile unless the crowded pass takes it; benchmarks report it (jittable)."""
        return self._pieces_per_tile(geom_xpos, geom_xmat, cam_xpos, cam_xmat).max(-1)

    def tiles_over_budget(self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray,
                          cam_xmat: jnp.ndarray) -> jnp.ndarray:
        """int32[N]: per frame, how many tiles more than `tile_pieces` pieces meet (those the crowded pass may
        take, up to `crowded_tiles` of them; jittable)."""
        counts = self._pieces_per_tile(geom_xpos, geom_xmat, cam_xpos, cam_xmat)
        return (counts > self.tile_pieces).sum(-1)

    def flops_per_frame(self) -> dict[str, int]:
        """Analytic work per frame (see the module docstring): plane tests, primitive tests, culling, totals."""
        px = self.num_tiles * self.tile * self.tile
        planes = 10 * (px * self.tile_pieces + self.crowded_tiles * self.tile * self.tile * self.crowded_pieces
                       ) * self.num_planes
        prims = 40 * px * len(self.prim_order)
        cull = 40 * self.num_tiles * self.num_pieces
        return {"pixels_traced": px, "pieces": self.num_pieces, "planes_per_piece": self.num_planes,
                "pieces_per_tile": self.tile_pieces, "crowded_tiles": self.crowded_tiles,
                "crowded_pieces": self.crowded_pieces, "primitives": len(self.prim_order), "plane_flops": planes,
                "primitive_flops": prims, "cull_flops": cull, "total_flops": planes + prims + cull}


__all__ = ["HullRenderer"]
