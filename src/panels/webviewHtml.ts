// The one page shell of the extension's webviews: a strict Content-Security-Policy with a nonce
// per load (scripts only from our bundle, styles and fonts only from the extension, images from
// the extension or data: URLs), the codicon font, our stylesheets, and one bundle.
import * as vscode from 'vscode';
import { randomUUID } from 'node:crypto';

export interface WebviewPage {
  title: string;
  /** Stylesheets under media/, in order. */
  styles: string[];
  /** The bundle under dist/ that runs the page. */
  script: string;
  /** The body's first content, shown until the script has drawn (HTML). */
  body: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const nonce = randomUUID().replace(/-/g, '');
  const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...p)).toString();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data:`,
    `style-src ${webview.cspSource} 'unsafe-inline'`,
    `font-src ${webview.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  const styles = page.styles.map((file) => `<link rel="stylesheet" href="${asset('media', file)}">`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('dist', 'codicon.css')}" id="vscode-codicon-stylesheet">
${styles}
<title>${page.title}</title>
</head>
<body>
${page.body}
<script nonce="${nonce}" src="${asset('dist', page.script)}"></script>
</body>
</html>`;
}
