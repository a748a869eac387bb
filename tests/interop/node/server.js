// A PLC served by node-opcua (an OPC UA stack sdf-twin did not write), for the interop tests.
// Usage: node server.js PORT [BULK_NODES] [--limits=N]
//   -> prints "ready <endpoint>" once it listens on 127.0.0.1:PORT.
// BULK_NODES adds that many Double variables under Objects/Bulk (a large server for browse speed);
// --limits=N advertises OperationLimits of N nodes per Read, Browse, TranslateBrowsePathsToNodeIds and
// CreateMonitoredItems call, and node-opcua answers a bigger call with BadTooManyOperations (a small PLC).
const { OPCUAServer, Variant, DataType, StatusCodes, standardUnits } = require("node-opcua");

// An S7-shaped cell in a namespace registered after the interop one (index 3): quoted string ids, PackML
// state codes with a unit mode, Boolean fault/running bits, power in W (EUInformation), an Int16 array.
// Values are set by the test through the writable "Cmd" variables: "<name>=<json>".
function addVendorCell(addressSpace, objects) {
  const ns = addressSpace.registerNamespace("urn:acme:s7");
  const db = ns.addFolder(objects, { browseName: "DB_Line2" });
  const cell = ns.addObject({ organizedBy: db, browseName: "ST010", nodeId: 's="DB_Line2"."ST010"' });
  const vars = {};
  const add = (name, dataType, value, extra = {}) => {
    vars[name] = ns.addVariable({ componentOf: cell, browseName: name, nodeId: `s="DB_Line2"."ST010"."${name}"`,
      dataType, value: { dataType, value }, ...extra });
  };
  add("PackMLState", "Int32", 6);
  add("UnitMode", "Int32", 1);
  add("Fault", "Boolean", false);
  add("Running", "Boolean", true);
  add("Counts", "Int16", 0, { valueRank: 1, arrayDimensions: [3], value: { dataType: "Int16", arrayType: 1, value: new Int16Array([1, 5, 2]) } });
  ns.addAnalogDataItem({ componentOf: cell, browseName: "Power", nodeId: 's="DB_Line2"."ST010"."Power"', dataType: "Double",
    engineeringUnitsRange: { low: 0, high: 100000 }, engineeringUnits: standardUnits.watt,
    value: { dataType: "Double", value: 12500.0 } });
  ns.addVariable({ componentOf: cell, browseName: "Cmd", nodeId: 's="DB_Line2"."ST010"."Cmd"', dataType: "String",
    accessLevel: "CurrentRead | CurrentWrite", userAccessLevel: "CurrentRead | CurrentWrite",
    value: { get: () => new Variant({ dataType: DataType.String, value: "" }),
      set: (v) => { const [name, json] = v.value.split("="); const node = vars[name];
        node.setValueFromSource({ dataType: node.dataTypeObj.browseName.name, value: JSON.parse(json) });
        return StatusCodes.Good; } } });
}

// N plain Double variables in folders of 100 (a large server for browse speed).
function addBulk(addressSpace, objects, n) {
  if (!n) return;
  const ns = addressSpace.registerNamespace("urn:acme:bulk");
  const root = ns.addFolder(objects, { browseName: "Bulk" });
  let folder = null;
  for (let i = 0; i < n; i++) {
    if (i % 100 === 0) folder = ns.addObject({ organizedBy: root, browseName: `Unit${i / 100}` });
    ns.addVariable({ componentOf: folder, browseName: `V${i}`, nodeId: `s=Bulk.V${i}`, dataType: "Double",
      value: { dataType: "Double", value: i } });
  }
}

function parseArgs(argv) {
  const opts = { port: parseInt(argv[0], 10), bulk: 0, limits: 0 };
  for (const arg of argv.slice(1)) {
    if (arg.startsWith("--limits=")) opts.limits = parseInt(arg.slice(9), 10);
    else opts.bulk = parseInt(arg, 10);
  }
  return opts;
}

function capabilities(limits) {
  if (!limits) return undefined;
  return { operationLimits: { maxNodesPerRead: limits, maxNodesPerBrowse: limits, maxMonitoredItemsPerCall: limits,
    maxNodesPerTranslateBrowsePathsToNodeIds: limits } };
}

async function main() {
  const { port, bulk, limits } = parseArgs(process.argv.slice(2));
  const server = new OPCUAServer({ port, hostname: "127.0.0.1", resourcePath: "/interop", allowAnonymous: true,
    serverCapabilities: capabilities(limits) });
  await server.initialize();
  const ns = server.engine.addressSpace.registerNamespace("urn:sdf-twin:interop");
  const objects = server.engine.addressSpace.rootFolder.objects;
  const plant = ns.addFolder(objects, { browseName: "Plant" });
  const line = ns.addFolder(plant, { browseName: "Line1" });           // nested folders
  const press = ns.addObject({ organizedBy: line, browseName: "PRESS", nodeId: "s=PRESS" });
  const stateType = ns.addEnumerationType({
    browseName: "MachineState",
    enumeration: ["Idle", "Running", "Blocked", "Starved", "Fault", "Changeover", "Off"],
  });
  let count = 0;
  const state = ns.addVariable({ componentOf: press, browseName: "state", nodeId: "s=PRESS.state",
    dataType: stateType, value: { dataType: DataType.Int32, value: 1 } });
  ns.addVariable({ organizedBy: line, browseName: "PartCount", nodeId: "i=5002", minimumSamplingInterval: 100, dataType: "Int64",
    value: { get: () => new Variant({ dataType: DataType.Int64, value: count }) } });
  ns.addAnalogDataItem({ componentOf: press, browseName: "Speed", nodeId: "i=5001", minimumSamplingInterval: 100, dataType: "Double",
    engineeringUnitsRange: { low: 0, high: 3000 }, engineeringUnits: standardUnits.kilowatt,
    value: { get: () => new Variant({ dataType: DataType.Double, value: 100 + (count % 50) }) } });
  ns.addVariable({ componentOf: press, browseName: "Temps", nodeId: "s=Press.Temps", minimumSamplingInterval: 100, dataType: "Double",
    valueRank: 1, arrayDimensions: [3],
    value: { get: () => new Variant({ dataType: DataType.Double, arrayType: 1, value: [20.5, 21.5, 22.5 + count % 3] }) } });
  ns.addVariable({ componentOf: press, browseName: "Model", nodeId: "s=Press.Model", minimumSamplingInterval: 100, dataType: "String",
    value: { get: () => new Variant({ dataType: DataType.String, value: count % 2 ? "A" : "B" }) } });
  addVendorCell(server.engine.addressSpace, objects);
  addBulk(server.engine.addressSpace, objects, bulk);
  setInterval(() => { count += 1; }, 100);
  await server.start();
  console.log(`ready ${server.getEndpointUrl()}`);
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
main().catch((err) => { console.error(err); process.exit(1); });
