"""Find the nodes to subscribe to by browsing a folder, and resolve node strings.

Convention (what ``plantpulse opcua-sim`` serves, and what a plant's server can be mapped to):
under the browse root, every Object that has Variable components is an asset, named by its
browse name; each such Variable is a channel named by its browse name. Standard properties are
honoured: ``EURange`` (valid range), ``EngineeringUnits`` (unit), plus PlantPulse's optional
``AssetType`` on the asset and ``SampleRateHz`` on waveform variables.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from asyncua import ua
from asyncua.client.ua_client import UaClient

from plantpulse.connectors.opcua.nodes import NodeBinding, NodeMap
from plantpulse.data.core.errors import ConfigError

log = logging.getLogger(__name__)

_PROPERTY = ua.NodeId(ua.Int32(ua.ObjectIds.HasProperty))
_HIERARCHICAL = ua.NodeId(ua.Int32(ua.ObjectIds.HierarchicalReferences))
_CHUNK = 200


def stable_id(node_id: ua.NodeId | ua.ExpandedNodeId, namespaces: Sequence[str]) -> str:
    """``nsu=<namespace uri>;<identifier>``: survives a server renumbering its namespaces."""
    text = ua.NodeId(node_id.Identifier, node_id.NamespaceIndex, node_id.NodeIdType).to_string()
    if node_id.NamespaceIndex == 0 or node_id.NamespaceIndex >= len(namespaces):
        return text
    ident = text.split(";", 1)[1] if ";" in text else text
    return f"nsu={namespaces[node_id.NamespaceIndex]};{ident}"


def resolve(text: str, namespaces: Sequence[str]) -> ua.NodeId:
    """A node string (``ns=``, ``nsu=`` or ``i=`` form) as a NodeId of this server session."""
    try:
        parsed = ua.NodeId.from_string(text)
    except (ValueError, ua.UaError) as err:
        msg = f"{text!r} is not an OPC-UA node id (e.g. ns=2;s=Press07.Pressure or nsu=urn:x;i=1001)."
        raise ConfigError(msg) from err
    uri = getattr(parsed, "NamespaceUri", None)
    if not uri:
        return ua.NodeId(parsed.Identifier, parsed.NamespaceIndex, parsed.NodeIdType)
    if uri not in namespaces:
        msg = f"Node {text}: the server has no namespace {uri!r}. Its namespaces: {list(namespaces)}."
        raise ConfigError(msg)
    return ua.NodeId(parsed.Identifier, ua.Int16(namespaces.index(uri)), parsed.NodeIdType)


async def _browse(uaclient: UaClient, nodes: Sequence[ua.NodeId], reference: ua.NodeId,
                  ) -> list[list[ua.ReferenceDescription]]:
    out: list[list[ua.ReferenceDescription]] = []
    for i in range(0, len(nodes), _CHUNK):
        params = ua.BrowseParameters()
        params.View = ua.ViewDescription()
        params.RequestedMaxReferencesPerNode = 0
        for node in nodes[i : i + _CHUNK]:
            desc = ua.BrowseDescription(NodeId=node, BrowseDirection=ua.BrowseDirection.Forward,
                                        ReferenceTypeId=reference, IncludeSubtypes=True,
                                        NodeClassMask=int(ua.NodeClass.Object | ua.NodeClass.Variable),
                                        ResultMask=int(ua.BrowseResultMask.All))
            params.NodesToBrowse.append(desc)
        for result in await uaclient.browse(params):
            refs = list(result.References)
            cont = result.ContinuationPoint
            while cont:
                more = (await uaclient.browse_next(ua.BrowseNextParameters(ContinuationPoints=[cont])))[0]
                refs.extend(more.References)
                cont = more.ContinuationPoint
            out.append(refs)
    return out


def _is_good(status: ua.StatusCode | None) -> bool:
    """A DataValue without a status code is Good (OPC 10000-6, DataValue encoding), as in the intake."""
    return status is None or status.is_good()


async def _read_values(uaclient: UaClient, nodes: Sequence[ua.NodeId]) -> list[Any]:
    values: list[Any] = []
    for i in range(0, len(nodes), _CHUNK):
        params = ua.ReadParameters()
        params.NodesToRead = [ua.ReadValueId(NodeId=n, AttributeId=ua.AttributeIds.Value) for n in nodes[i : i + _CHUNK]]
        values.extend(dv.Value.Value if dv.Value is not None and _is_good(dv.StatusCode) else None
                      for dv in await uaclient.read(params))
    return values


async def _properties(uaclient: UaClient, nodes: Sequence[ua.NodeId], names: set[str]) -> list[dict[str, Any]]:
    """Selected property values of each node (absent properties are missing from its dict)."""
    refs = await _browse(uaclient, nodes, _PROPERTY)
    wanted = [(i, r.BrowseName.Name, ua.NodeId(r.NodeId.Identifier, r.NodeId.NamespaceIndex, r.NodeId.NodeIdType))
              for i, node_refs in enumerate(refs) for r in node_refs if r.BrowseName.Name in names]
    values = await _read_values(uaclient, [w[2] for w in wanted])
    props: list[dict[str, Any]] = [{} for _ in nodes]
    for (i, name, _), value in zip(wanted, values, strict=True):
        if value is not None:
            props[i][name] = value
    return props


async def _find_root(uaclient: UaClient, root: str, namespaces: Sequence[str]) -> ua.NodeId:
    if "=" in root:
        return resolve(root, namespaces)
    node = ua.NodeId(ua.Int32(ua.ObjectIds.ObjectsFolder))
    for part in [p for p in root.split("/") if p]:
        refs = (await _browse(uaclient, [node], _HIERARCHICAL))[0]
        match = [r for r in refs if r.BrowseName.Name == part]
        if not match:
            names = sorted(r.BrowseName.Name for r in refs)
            msg = f"Browse path {root!r}: no child named {part!r}. Children there: {names}. Set opcua.browse_root."
            raise ConfigError(msg)
        ref = match[0].NodeId
        node = ua.NodeId(ref.Identifier, ref.NamespaceIndex, ref.NodeIdType)
    return node


def _plain(ref: ua.ReferenceDescription) -> ua.NodeId:
    return ua.NodeId(ref.NodeId.Identifier, ref.NodeId.NamespaceIndex, ref.NodeId.NodeIdType)


async def _walk(uaclient: UaClient, root: ua.NodeId, max_depth: int,
                ) -> list[tuple[ua.NodeId, str, list[ua.ReferenceDescription]]]:
    """(asset node, asset name, its channel variables) for every asset below ``root``."""
    assets, level, names = [], [root], {root: ""}
    for _ in range(max_depth):
        if not level:
            break
        following = []
        for node, refs in zip(level, await _browse(uaclient, level, _HIERARCHICAL), strict=True):
            variables = [r for r in refs if r.NodeClass == ua.NodeClass.Variable and r.ReferenceTypeId != _PROPERTY]
            if variables and node != root:
                assets.append((node, names[node], variables))
            for r in refs:
                if r.NodeClass == ua.NodeClass.Object:
                    child = _plain(r)
                    names[child] = r.BrowseName.Name
                    following.append(child)
        level = following
    return assets


async def discover(uaclient: UaClient, root: str, namespaces: Sequence[str], default_asset_type: str,
                   max_depth: int = 8) -> NodeMap:
    """Bindings for every asset variable below ``root`` (see the module docstring)."""
    found = await _walk(uaclient, await _find_root(uaclient, root, namespaces), max_depth)
    if not found:
        msg = f"Nothing to subscribe to below {root!r}: no objects with variables. Check opcua.browse_root."
        raise ConfigError(msg)
    asset_props = await _properties(uaclient, [a[0] for a in found], {"AssetType"})
    channels = [(a, v) for a in found for v in a[2]]
    channel_props = await _properties(uaclient, [_plain(v) for _, v in channels],
                                      {"EURange", "EngineeringUnits", "SampleRateHz"})
    types = {a[0]: str(p.get("AssetType") or default_asset_type) for a, p in zip(found, asset_props, strict=True)}
    bindings = []
    for (asset, var), props in zip(channels, channel_props, strict=True):
        eu_range, unit = props.get("EURange"), props.get("EngineeringUnits")
        bindings.append(NodeBinding(
            node=stable_id(var.NodeId, namespaces), asset=asset[1], channel=var.BrowseName.Name,
            asset_type=types[asset[0]], unit=unit.DisplayName.Text or "" if unit is not None else "",
            low=getattr(eu_range, "Low", None), high=getattr(eu_range, "High", None),
            sample_rate_hz=float(props["SampleRateHz"]) if "SampleRateHz" in props else None))
    log.info("Browsed %s: %d assets, %d nodes.", root, len(found), len(bindings))
    return NodeMap(tuple(bindings))
