"""Pure-JAX render backend: a vectorised primitive ray caster (runs anywhere JAX runs: CPU, GPU, TPU).

Contract: `JaxRaycaster(...).render(geom_xpos f32[N,ngeom,3], geom_xmat f32[N,ngeom,3,3], cam_xpos f32[N,3],
cam_xmat f32[N,3,3]) -> (rgb f32[N,H,W,3] in [0,1], mask bool[N,H,W], geom_id int32[N,H,W] (-1 = nothing))`,
jittable; H, W, fovy, the drawn geoms and their types/sizes/colours are static (read from the MjModel once),
poses are traced.

What it draws: one primary ray per pixel centre (MuJoCo's pinhole camera) against every visible geom of the
groups MuJoCo shows by default (0, 1, 2): spheres, capsules, ellipsoids, cylinders and boxes exactly; planes
painted only when asked (`draw_planes`, i.e. `background="scene"`) but always hiding what is behind them; meshes approximately, by a proxy fitted in the
geom frame: `"ellipsoid"` (default; the ellipsoid inscribed in the mesh's bounding box), `"kdop"` (a 26-DOP,
the intersection of 13 slabs hugging the vertices: close to the convex hull, ~3x slower) or `"box"` (the
bounding box). Visual/collision twins (same body, shape, placement) are drawn once. Shading: base colour
(material rgba, else geom rgba) x (ambient + Lambert from a head light at the camera). It does not draw
textures, shadows, specular highlights, height fields, flexes, exact or concave mesh shapes, and a camera
inside a geom sees nothing of that geom. Cost is pixels x drawn geoms per env; envs run in chunks of `chunk`
(`lax.map`) to bound the [G,H,W] intermediates.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from niljax.render.camera import pixel_rays

_PLANE, _SPHERE, _CAPSULE, _ELLIPSOID, _CYLINDER, _BOX, _MESH = (
    int(mujoco.mjtGeom.mjGEOM_PLANE),
    int(mujoco.mjtGeom.mjGEOM_SPHERE),
    int(mujoco.mjtGeom.mjGEOM_CAPSULE),
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID),
    int(mujoco.mjtGeom.mjGEOM_CYLINDER),
    int(mujoco.mjtGeom.mjGEOM_BOX),
    int(mujoco.mjtGeom.mjGEOM_MESH),
)
_VISIBLE_GROUPS = (0, 1, 2)
_EPS = 1e-9


def _safe_div(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    b = jnp.where(jnp.abs(b) < _EPS, jnp.where(b < 0, -_EPS, _EPS), b)
    return a / b


def _first_positive(t: jnp.ndarray, valid: jnp.ndarray) -> jnp.ndarray:
    return jnp.where(valid & (t > 0), t, jnp.inf)


def _hit_ellipsoid(o: jnp.ndarray, d: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    o, d = o / s, d / s
    a = jnp.sum(d * d, -1)
    b = jnp.sum(o * d, -1)
    c = jnp.sum(o * o, -1) - 1.0
    disc = b * b - a * c
    t = (-b - jnp.sqrt(jnp.maximum(disc, 0.0))) / a
    return _first_positive(t, disc >= 0)


def _hit_box(o: jnp.ndarray, d: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    t1 = _safe_div(-s - o, d)
    t2 = _safe_div(s - o, d)
    tnear = jnp.max(jnp.minimum(t1, t2), -1)
    tfar = jnp.min(jnp.maximum(t1, t2), -1)
    return _first_positive(tnear, tnear <= tfar)


def _hit_side(o: jnp.ndarray, d: jnp.ndarray, r: jnp.ndarray, h: jnp.ndarray) -> jnp.ndarray:
    a = d[..., 0] ** 2 + d[..., 1] ** 2
    b = o[..., 0] * d[..., 0] + o[..., 1] * d[..., 1]
    c = o[..., 0] ** 2 + o[..., 1] ** 2 - r**2
    disc = b * b - a * c
    t = _safe_div(-b - jnp.sqrt(jnp.maximum(disc, 0.0)), a)
    z = o[..., 2] + t * d[..., 2]
    return _first_positive(t, (disc >= 0) & (jnp.abs(z) <= h))


def _hit_capsule(o: jnp.ndarray, d: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    r, h = s[..., 0], s[..., 1]
    t = _hit_side(o, d, r, h)
    for sign in (-1.0, 1.0):
        centre = jnp.stack([jnp.zeros_like(h), jnp.zeros_like(h), sign * h], -1)
        rr = jnp.stack([r, r, r], -1)
        t = jnp.minimum(t, _hit_ellipsoid(o - centre, d, rr))
    return t


def _hit_cylinder(o: jnp.ndarray, d: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    r, h = s[..., 0], s[..., 1]
    t = _hit_side(o, d, r, h)
    for sign in (-1.0, 1.0):
        tc = _safe_div(sign * h - o[..., 2], d[..., 2])
        x = o[..., 0] + tc * d[..., 0]
        y = o[..., 1] + tc * d[..., 1]
        t = jnp.minimum(t, _first_positive(tc, x * x + y * y <= r * r))
    return t


def _hit_plane(o: jnp.ndarray, d: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    t = _safe_div(-o[..., 2], d[..., 2])
    x = o[..., 0] + t * d[..., 0]
    y = o[..., 1] + t * d[..., 1]
    inside = ((s[..., 0] <= 0) | (jnp.abs(x) <= s[..., 0])) & ((s[..., 1] <= 0) | (jnp.abs(y) <= s[..., 1]))
    return _first_positive(t, inside & (jnp.abs(d[..., 2]) > _EPS))


# 13 slab axes of a 26-DOP: 3 coordinate axes, 6 face diagonals, 4 body diagonals (unit vectors).
_KDOP_AXES = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -1, 0], [1, 0, 1], [1, 0, -1], [0, 1, 1], [0, 1, -1],
     [1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]],
    dtype=np.float64,
)
_KDOP_AXES /= np.linalg.norm(_KDOP_AXES, axis=1, keepdims=True)
_KDOP = -1  # proxy kind for meshes: a 26-DOP (intersection of 13 slabs) hugging the mesh's vertices


def _hit_kdop(o: jnp.ndarray, d: jnp.ndarray, lo: jnp.ndarray, hi: jnp.ndarray) -> jnp.ndarray:
    axes = jnp.asarray(_KDOP_AXES, jnp.float32)
    po = jnp.einsum("...j,kj->...k", o, axes)
    pd = jnp.einsum("...j,kj->...k", d, axes)
    t1 = _safe_div(lo - po, pd)
    t2 = _safe_div(hi - po, pd)
    tnear = jnp.max(jnp.minimum(t1, t2), -1)
    tfar = jnp.min(jnp.maximum(t1, t2), -1)
    return _first_positive(tnear, tnear <= tfar)


def _kdop_normal(p: jnp.ndarray, lo: jnp.ndarray, hi: jnp.ndarray) -> jnp.ndarray:
    axes = jnp.asarray(_KDOP_AXES, jnp.float32)
    pp = jnp.einsum("...j,kj->...k", p, axes)
    gap = jnp.concatenate([jnp.abs(hi - pp), jnp.abs(pp - lo)], -1)  # distance to each face plane
    face = jnp.argmin(gap, -1)
    normals = jnp.concatenate([axes, -axes], 0)
    return normals[face]


_HIT = {
    _PLANE: _hit_plane,
    _SPHERE: _hit_ellipsoid,
    _ELLIPSOID: _hit_ellipsoid,
    _CAPSULE: _hit_capsule,
    _CYLINDER: _hit_cylinder,
    _BOX: _hit_box,
}


def geom_colors(m: mujoco.MjModel) -> np.ndarray:
    """f32[ngeom,4]: each geom's material rgba where it has a material, else its own rgba."""
    rgba = np.array(m.geom_rgba, dtype=np.float32)
    has_mat = m.geom_matid >= 0
    rgba[has_mat] = m.mat_rgba[m.geom_matid[has_mat]]
    return rgba


def drawn_geoms(m: mujoco.MjModel, draw_planes: bool) -> list[int]:
    """Ids of the geoms the pure-JAX backends draw, ascending: types they can intersect (primitives, meshes;
    planes only with `draw_planes`), groups MuJoCo shows by default, not transparent, and of visual/collision
    twins (same body, shape and placement, e.g. H1's group-0 and group-1 meshes, covering the same pixels) only
    the later one, as OpenGL's depth test tends to."""
    rgba = geom_colors(m)
    drawn_types = set(_HIT) | {_MESH}
    if not draw_planes:
        drawn_types.discard(_PLANE)
    seen: dict[tuple, int] = {}
    for g in range(m.ngeom):
        t = int(m.geom_type[g])
        if t not in drawn_types or int(m.geom_group[g]) not in _VISIBLE_GROUPS or rgba[g, 3] <= 0:
            continue
        key = (int(m.geom_bodyid[g]), t, int(m.geom_dataid[g]), *np.round(m.geom_size[g], 6),
               *np.round(m.geom_pos[g], 6), *np.round(m.geom_quat[g], 6))
        seen.pop(key, None)
        seen[key] = g
    return sorted(seen.values())


def painted_geoms(m: mujoco.MjModel, draw_planes: bool) -> np.ndarray:
    """bool[ngeom]: geoms whose hits are drawn. Planes are always traced (they hide what is behind them, as the
    floor hides a sunk foot in OpenGL's segmentation) but painted only with `draw_planes`."""
    painted = np.ones(m.ngeom, bool)
    if not draw_planes:
        painted[np.asarray(m.geom_type) == _PLANE] = False
    return painted


def _local_normal(kind: jnp.ndarray, p: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    """Outward normal at local hit point p [...,3] of a geom of primitive type `kind` [...] with sizes s."""
    n_ell = p / jnp.maximum(s * s, _EPS)
    q = jnp.abs(p) / jnp.maximum(s, _EPS)
    axis = jnp.argmax(q, -1)
    n_box = jax.nn.one_hot(axis, 3) * jnp.sign(p)
    zc = jnp.clip(p[..., 2], -s[..., 1], s[..., 1])
    n_cap = p - jnp.stack([jnp.zeros_like(zc), jnp.zeros_like(zc), zc], -1)
    radial = jnp.sqrt(p[..., 0] ** 2 + p[..., 1] ** 2) / jnp.maximum(s[..., 0], _EPS)
    on_cap = jnp.abs(p[..., 2]) / jnp.maximum(s[..., 1], _EPS) > radial
    n_cyl = jnp.where(
        on_cap[..., None],
        jnp.stack([jnp.zeros_like(zc), jnp.zeros_like(zc), jnp.sign(p[..., 2])], -1),
        p * jnp.array([1.0, 1.0, 0.0]),
    )
    n_plane = jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), p.shape)
    k = kind[..., None]
    n = jnp.where((k == _SPHERE) | (k == _ELLIPSOID), n_ell, n_box)
    n = jnp.where(k == _CAPSULE, n_cap, n)
    n = jnp.where(k == _CYLINDER, n_cyl, n)
    n = jnp.where(k == _PLANE, n_plane, n)
    return n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), _EPS)


class JaxRaycaster:
    """Ray caster for one MjModel, one camera intrinsics and one resolution (all static)."""

    def __init__(
        self,
        mj_model: mujoco.MjModel,
        robot_geom_mask: np.ndarray,
        *,
        height: int,
        width: int,
        fovy: float,
        draw_planes: bool,
        mesh_proxy: Literal["ellipsoid", "kdop", "box"] = "ellipsoid",
        ambient: float = 0.35,
        chunk: int = 8,
    ) -> None:
        if mesh_proxy not in ("kdop", "ellipsoid", "box"):
            raise ValueError(f"mesh_proxy must be 'kdop', 'ellipsoid' or 'box', got {mesh_proxy!r}")
        m = mj_model
        rgba = geom_colors(m)
        self.height, self.width, self.ambient, self.chunk = height, width, ambient, chunk
        self.rays = pixel_rays(height, width, fovy)  # [H,W,3]
        # Per drawn geom: primitive kind, local centre offset, sizes.
        groups: dict[int, list[int]] = {}
        kinds, offsets, sizes = np.zeros(m.ngeom, np.int32), np.zeros((m.ngeom, 3)), np.array(m.geom_size)
        kdop_lo, kdop_hi = np.zeros((m.ngeom, len(_KDOP_AXES))), np.zeros((m.ngeom, len(_KDOP_AXES)))
        painted = painted_geoms(m, draw_planes)
        self.painted = jnp.asarray(painted)
        for g in drawn_geoms(m, draw_planes=True):
            t = int(m.geom_type[g])
            kind = t
            if t == _MESH and mesh_proxy == "kdop":
                kind = _KDOP
                mid = int(m.geom_dataid[g])
                verts = m.mesh_vert[m.mesh_vertadr[mid] : m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
                proj = verts @ _KDOP_AXES.T
                kdop_lo[g], kdop_hi[g] = proj.min(0), proj.max(0)
            elif t == _MESH:
                kind = _ELLIPSOID if mesh_proxy == "ellipsoid" else _BOX
                offsets[g] = m.geom_aabb[g, :3]
                sizes[g] = np.maximum(m.geom_aabb[g, 3:], 1e-4)
            if t == _SPHERE:
                sizes[g] = m.geom_size[g, 0]  # drawn as an ellipsoid with three equal radii
            kinds[g] = kind
            groups.setdefault(kind, []).append(g)
        groups = {k: v for k, v in groups.items() if v}
        if not any(painted[g] for v in groups.values() for g in v):
            raise ValueError("the model has no geom the JAX renderer can draw")
        self.order = np.concatenate([np.array(v, np.int32) for v in groups.values()])
        self.groups = {k: np.array(v, np.int32) for k, v in groups.items()}
        self.kinds = jnp.asarray(kinds)
        self.offsets = jnp.asarray(offsets, jnp.float32)
        self.sizes = jnp.asarray(sizes, jnp.float32)
        self.colors = jnp.asarray(rgba[:, :3])
        self.kdop_lo = jnp.asarray(kdop_lo, jnp.float32)
        self.kdop_hi = jnp.asarray(kdop_hi, jnp.float32)
        self.robot = jnp.asarray(np.asarray(robot_geom_mask, bool))

    def _render_one(
        self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray, cam_xmat: jnp.ndarray
    ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        d = jnp.einsum("hwk,jk->hwj", self.rays, cam_xmat)  # world ray directions [H,W,3]
        d = d / jnp.linalg.norm(d, axis=-1, keepdims=True)
        # Geom centres (mesh proxies are offset inside the geom frame).
        centre = geom_xpos + jnp.einsum("gjk,gk->gj", geom_xmat, self.offsets)
        ts = []
        for kind, idx in self.groups.items():
            R = geom_xmat[idx]  # [G,3,3], columns = local axes in world
            o_l = jnp.einsum("gkj,gk->gj", R, cam_xpos[None] - centre[idx])  # R^T (o - p)
            d_l = jnp.einsum("gkj,hwk->ghwj", R, d)
            if kind == _KDOP:
                lo, hi = self.kdop_lo[idx][:, None, None, :], self.kdop_hi[idx][:, None, None, :]
                ts.append(_hit_kdop(o_l[:, None, None, :], d_l, lo, hi))
            else:
                ts.append(_HIT[kind](o_l[:, None, None, :], d_l, self.sizes[idx][:, None, None, :]))
        t = jnp.concatenate(ts, 0)  # [G,H,W]
        k = jnp.argmin(t, 0)
        tmin = jnp.min(t, 0)
        nearest = jnp.asarray(self.order)[k]
        hit = jnp.isfinite(tmin) & self.painted[nearest]
        gid = jnp.where(hit, nearest, -1)
        g = jnp.maximum(gid, 0)
        mask = hit & self.robot[g]
        # Shading: analytic normal of the hit primitive, Lambert from a head light.
        R = geom_xmat[g]  # [H,W,3,3]
        tt = jnp.where(hit, tmin, 0.0)
        p_l = jnp.einsum("hwkj,hwk->hwj", R, cam_xpos + tt[..., None] * d - centre[g])
        kind = self.kinds[g]
        n_l = _local_normal(kind, p_l, self.sizes[g])
        if _KDOP in self.groups:
            n_l = jnp.where((kind == _KDOP)[..., None], _kdop_normal(p_l, self.kdop_lo[g], self.kdop_hi[g]), n_l)
        n = jnp.einsum("hwjk,hwk->hwj", R, n_l)
        lambert = jnp.abs(jnp.sum(n * d, -1))
        shade = self.ambient + (1.0 - self.ambient) * lambert
        rgb = jnp.clip(self.colors[g] * shade[..., None], 0.0, 1.0)
        return rgb, mask, gid

    def render(
        self, geom_xpos: jnp.ndarray, geom_xmat: jnp.ndarray, cam_xpos: jnp.ndarray, cam_xmat: jnp.ndarray,
        fov_scale: jnp.ndarray | None = None,
    ) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Batched render: float rgb f32[N,H,W,3] in [0,1] (unhit pixels undefined), mask bool[N,H,W], geom id.

        fov_scale f32[N] or None: per-env tan(fovy_env / 2) / tan(fovy / 2), a per-env field of view. Scaling the
        camera-frame rays' x and y by it is scaling the first two columns of the camera matrix."""

        def one(args: tuple[jnp.ndarray, ...]) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
            return self._render_one(*args)

        if fov_scale is not None:
            s = jnp.asarray(fov_scale, cam_xmat.dtype)
            cam_xmat = cam_xmat * jnp.stack([s, s, jnp.ones_like(s)], -1)[:, None, :]
        n = geom_xpos.shape[0]
        return jax.lax.map(one, (geom_xpos, geom_xmat, cam_xpos, cam_xmat), batch_size=min(self.chunk, n))
