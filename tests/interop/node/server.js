// A PLC served by node-opcua (an OPC UA stack sdf-twin did not write), for the interop tests.
// Usage: node server.js PORT   -> prints "ready <endpoint>" once it listens on 127.0.0.1:PORT.
const { OPCUAServer, Variant, DataType, StatusCodes, standardUnits } = require("node-opcua");

async function main() {
  const port = parseInt(process.argv[2], 10);
  const server = new OPCUAServer({ port, hostname: "127.0.0.1", resourcePath: "/interop", allowAnonymous: true });
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
  setInterval(() => { count += 1; }, 100);
  await server.start();
  console.log(`ready ${server.getEndpointUrl()}`);
  const stop = async () => { await server.shutdown(100); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
main().catch((err) => { console.error(err); process.exit(1); });
