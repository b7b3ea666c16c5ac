// A minimal Lambda-style handler: greets whoever the event names.
exports.handler = async (event) => {
  const name = event && typeof event.name === 'string' ? event.name : 'world';
  return { greeting: `Hello, ${name}`, node: process.version };
};
