// Independent XTA 2 v3 client for dxhub's interoperability test: the npm
// `soap` package (pinned 1.13.0) builds its client from the WSDL that dxhub
// serves (created from the official XTA.wsdl) and runs, over mutual TLS, a
// full Leser cycle (checkAccountActive → getStatusList → getMessage → close)
// and an Autor sendMessage. Every raw response is written to OUT_DIR for
// xmllint; a JSON summary goes to stdout.
//
// Environment: SOAP_MODULE (path of node_modules/soap), WSDL_URL, CERT, KEY,
// CA (PEM files), AUTHOR (organisation key), HUB (reader of the reply),
// OUT_DIR.
'use strict';
const fs = require('fs');
const https = require('https');
const path = require('path');
const crypto = require('crypto');
const soap = require(process.env.SOAP_MODULE);

const env = (k) => { const v = process.env[k]; if (!v) { throw new Error(k + ' not set'); } return v; };
const cert = fs.readFileSync(env('CERT'));
const key = fs.readFileSync(env('KEY'));
const ca = fs.readFileSync(env('CA'));
const author = env('AUTHOR');
const outDir = env('OUT_DIR');
const agent = new https.Agent({ cert, key, ca });

const WSA = 'http://www.w3.org/2005/08/addressing';
const META = 'http://www.osci.eu/ws/2014/10/transport';
const authorHeader = `<oscimeta:Author xmlns:oscimeta="${META}"><oscimeta:Identifier type="xoev">${author}</oscimeta:Identifier></oscimeta:Author>`;

function addressing(client, action, to) {
  client.clearSoapHeaders();
  const id = 'urn:uuid:' + crypto.randomUUID();
  client.addSoapHeader(`<wsa:Action xmlns:wsa="${WSA}">${action}</wsa:Action>`);
  client.addSoapHeader(`<wsa:MessageID xmlns:wsa="${WSA}">${id}</wsa:MessageID>`);
  client.addSoapHeader(`<wsa:To xmlns:wsa="${WSA}">${to}</wsa:To>`);
  return id;
}

async function call(client, port, op, action, args, extraHeaders, name) {
  const endpoint = client.wsdl.definitions.services.XTAService.ports[port].location;
  client.setEndpoint(endpoint);
  const id = addressing(client, action, endpoint);
  for (const h of extraHeaders) { client.addSoapHeader(h); }
  const fn = client[op + 'Async'];
  let result;
  try {
    result = await fn.call(client, args);
  } catch (err) {
    process.stderr.write('request of ' + op + ':\n' + client.lastRequest + '\n');
    throw err;
  } finally {
    fs.writeFileSync(path.join(outDir, name + '.xml'), client.lastResponse || '');
  }
  const [body, raw, header] = result;
  if (!raw.includes(id)) { throw new Error(op + ': response does not relate to ' + id); }
  return { body, raw, header };
}

async function main() {
  const client = await soap.createClientAsync(env('WSDL_URL'), {
    forceSoap12Headers: true,
    wsdl_options: { httpsAgent: agent },
  });
  client.setSecurity(new soap.ClientSSLSecurity(key, cert, ca));
  const summary = {};

  await call(client, 'ManagementPort', 'checkAccountActive', ActionOf('CheckAccountActive'), {}, [authorHeader], 'checkAccountActive');
  summary.accountActive = true;

  const list = await call(client, 'MsgBoxPort', 'getStatusList',
    'http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxStatusListRequest',
    { attributes: { ListForm: 'MessageMetaData', maxListItems: 10 } }, [authorHeader], 'getStatusList');
  const ids = [...list.raw.matchAll(/<wsa:MessageID>([^<]+)<\/wsa:MessageID>/g)].map((m) => m[1])
    .filter((v) => v.startsWith('urn:de:xta:messageid:'));
  summary.listed = ids;
  summary.fetched = [];
  for (const id of ids) {
    const msg = await call(client, 'MsgBoxPort', 'getMessage',
      'http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxFetchRequest',
      // node-soap wraps $xml in the part's element (osci:MsgBoxFetchRequest).
      { $xml: `<osci:MsgSelector><wsa:MessageID xmlns:wsa="${WSA}">${id}</wsa:MessageID></osci:MsgSelector>` },
      [authorHeader], 'getMessage-' + summary.fetched.length);
    const m = /<xta:Message[^>]*>([^<]*)<\/xta:Message>/.exec(msg.raw);
    const att = [...msg.raw.matchAll(/<xta:Attachment[^>]*>([^<]*)<\/xta:Attachment>/g)].map((a) =>
      crypto.createHash('sha256').update(Buffer.from(a[1], 'base64')).digest('hex'));
    summary.fetched.push({ id, message: Buffer.from(m[1], 'base64').toString('utf8'), attachments: att });
    await call(client, 'MsgBoxPort', 'close',
      'http://www.osci.eu/ws/2008/05/transport/urn/messageTypes/MsgBoxCloseRequest',
      { attributes: { MsgBoxRequestID: 'urn:uuid:' + crypto.randomUUID() }, LastMsgReceived: id },
      [authorHeader], 'close-' + (summary.fetched.length - 1));
  }

  const replyID = 'urn:de:xta:messageid:nodesoap:' + crypto.randomUUID();
  const meta = `<oscimeta:MessageMetaData xmlns:oscimeta="${META}" xmlns:wsa="${WSA}">` +
    `<oscimeta:DeliveryAttributes><oscimeta:Origin>${new Date().toISOString()}</oscimeta:Origin></oscimeta:DeliveryAttributes>` +
    `<oscimeta:Originators><oscimeta:Author><oscimeta:Identifier type="xoev">${author}</oscimeta:Identifier></oscimeta:Author></oscimeta:Originators>` +
    `<oscimeta:Destinations><oscimeta:Reader><oscimeta:Identifier type="xoev">${env('HUB')}</oscimeta:Identifier></oscimeta:Reader></oscimeta:Destinations>` +
    `<oscimeta:MsgIdentification><wsa:MessageID>${replyID}</wsa:MessageID></oscimeta:MsgIdentification>` +
    `<oscimeta:Qualifier><oscimeta:Service>urn:xoev-de:xbau:standard:xbau_2.6</oscimeta:Service>` +
    `<oscimeta:BusinessScenario><oscimeta:Defined listURI="urn:de:xta:codeliste:business.scenario" listVersionID="1"><code>XBAU_DATA</code></oscimeta:Defined></oscimeta:BusinessScenario>` +
    `<oscimeta:MessageType listURI="urn:de:payloadSchema:elementName" listVersionID="1.0" payloadSchema="http://www.xleitstelle.de/xbau/2/6"><code>antwort</code></oscimeta:MessageType>` +
    `</oscimeta:Qualifier></oscimeta:MessageMetaData>`;
  const payload = Buffer.from('<antwort>von node-soap</antwort>').toString('base64');
  await call(client, 'SendXtaPort', 'sendMessage', 'http://www.xta.de/XTA/SendMessage',
    { $xml: `<xta:ContentContainer><xta:Message contentType="application/xml" filename="antwort.xml">${payload}</xta:Message></xta:ContentContainer>` },
    [meta], 'sendMessage');
  summary.sent = replyID;

  const report = await call(client, 'ManagementPort', 'getTransportReport', ActionOf('GetTransportReport'),
    { $xml: replyID }, [authorHeader], 'getTransportReport');
  summary.reportStatus = Number(/<xta:Status>(\d)<\/xta:Status>/.exec(report.raw)[1]);
  process.stdout.write(JSON.stringify(summary));
}

function ActionOf(name) { return 'http://www.xta.de/XTA/' + name; }

main().catch((err) => {
  process.stderr.write('node-soap client failed: ' + (err && err.stack || err) + '\n');
  if (err && err.body) { process.stderr.write(String(err.body) + '\n'); }
  process.exit(1);
});
